package org.fmsmo.tests;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.fmsmo.core.plugin.PluginRegistry;
import org.fmsmo.core.synthetic.ModelShape;
import org.fmsmo.core.synthetic.SyntheticModel;

/**
 * What the end-to-end method tests start from: a small synthetic Llama (vocabulary 512, 2 blocks,
 * 4 heads over 2 KV heads), a text of its tokenizer's words, and the distribution's plugins.
 *
 * @param work  the test's fresh folder, holding the model and the text
 * @param model the model folder
 * @param text  words {@code w0 … w499}, a line break every {@code line} words
 */
record SyntheticLlama(Path work, Path model, Path text, PluginRegistry registry) implements AutoCloseable {

    /**
     * @param hidden       hidden size (intermediate: twice that)
     * @param words        words in the text; word i is {@code w((i·stride) mod 500)}
     */
    static SyntheticLlama create(String name, int hidden, long seed, int words, int stride, int line) throws IOException {
        Path work = Fixtures.freshDir(name + "-" + System.nanoTime());
        ModelShape shape = new ModelShape(name + "-llama", "llama", "LlamaForCausalLM", 512, hidden, 2 * hidden, 2, 4, 2, false, false,
                10000.0, 256, 1e-5, null);
        Path model = SyntheticModel.write(work.resolve("model"), shape, seed, SyntheticModel.HUB_SHARD_BYTES);
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < words; i++) {
            text.append('w').append((i * stride) % 500).append(i % line == line - 1 ? "\n" : " ");
        }
        Path file = Files.writeString(work.resolve("text.txt"), text);
        return new SyntheticLlama(work, model, file, PluginRegistry.standard(Fixtures.distribution().resolve("plugins")));
    }

    @Override
    public void close() {
        registry.close();
    }
}
