package org.fmsmo.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.fmsmo.api.quant.ProgressListener;
import org.fmsmo.core.checkpoint.ModelLoader;
import org.fmsmo.core.export.Exports;
import org.fmsmo.core.hf.HfConfig;
import org.fmsmo.core.model.TransformerModel;
import org.fmsmo.core.plugin.PluginRegistry;
import org.fmsmo.core.synthetic.ModelShape;
import org.fmsmo.core.synthetic.SyntheticModel;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The GGUF files fmsmo writes, checked by llama.cpp's own Python package (gguf-py): its reader
 * parses them, its Q8_0 and Q4_0 quantizers produce the same bytes for the same values, and its
 * dequantizer (Q4_K included) gives back the source within each type's rounding
 * ({@code plugins/gguf/src/test/python/check_gguf.py}). The venv is built from wheels on this
 * machine ({@code /opt/pypi/files} and alike, no network); without them the test is skipped, saying so.
 */
class GgufPythonCheckTest {

    private static final List<Path> WHEELS = List.of(Path.of("/opt/pypi/files"), Path.of("/opt/wheels"), Path.of("/opt/pypi-more/files"));
    private static final Path SCRIPT = Path.of("..", "plugins", "gguf", "src", "test", "python", "check_gguf.py");

    private static Path python() throws Exception {
        String configured = System.getenv("FMSMO_GGUF_VENV");
        Path venv = configured != null ? Path.of(configured) : Path.of(System.getProperty("user.home"), ".cache", "fmsmo", "gguf-venv");
        Path py = venv.resolve("bin/python");
        if (Files.isExecutable(py) && run(List.of(py.toString(), "-c", "import gguf, numpy"), 60) == 0) {
            return py;
        }
        List<String> install = new ArrayList<>(List.of(venv.resolve("bin/pip").toString(), "install", "-q", "--no-index"));
        for (Path w : WHEELS) {
            if (Files.isDirectory(w)) {
                install.add("--find-links");
                install.add(w.toString());
            }
        }
        skipUnless(install.size() > 4, "no local wheel folders (" + WHEELS + ") to build a gguf-py venv from");
        skipUnless(run(List.of("python3", "-m", "venv", venv.toString()), 120) == 0, "python3 -m venv failed");
        install.addAll(List.of("gguf", "numpy"));
        skipUnless(run(install, 300) == 0, "gguf-py and numpy are not among the local wheels");
        return py;
    }

    private static void skipUnless(boolean ok, String why) {
        if (!ok) {
            System.out.println("skipped: " + why);
            Assumptions.abort(why);
        }
    }

    private static int run(List<String> command, int seconds) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            return -1;
        }
        return p.exitValue();
    }

    private static String check(Path py, Path model, Path gguf) throws Exception {
        Process p = new ProcessBuilder(py.toString(), SCRIPT.toString(), model.toString(), gguf.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(300, TimeUnit.SECONDS));
        System.out.print(gguf.getFileName() + ": " + out);
        assertEquals(0, p.exitValue(), out);
        return out;
    }

    private static Path export(PluginRegistry plugins, Path model, String type, Path out) {
        ModelLoader loader = new ModelLoader(plugins);
        try (TransformerModel m = loader.load(model, false)) {
            return Exports.export(m, loader.describe(HfConfig.read(model)), Exports.format(plugins, "gguf"),
                    Exports.options(plugins, "gguf", Map.of("gguf_type", type)), out, ProgressListener.NONE);
        }
    }

    @Test
    void llamaCppsGgufPyReadsAndAgreesWithEveryFile() throws Exception {
        Path shared = Fixtures.property("fmsmo.shared").resolve("fixtures");
        skipUnless(Files.isDirectory(shared.resolve("tiny-llama")), shared + " is absent (../shared is not mounted)");
        skipUnless(Files.isRegularFile(SCRIPT), SCRIPT + " is absent");
        Path py = python();
        Path work = Fixtures.freshDir("gguf-python");
        // rows of 256 and 512: whole Q4_K super-blocks, which tiny-llama's 128 and 344 are not
        Path wide = SyntheticModel.write(work.resolve("wide-llama"), new ModelShape("wide-llama", "llama", "LlamaForCausalLM", 1024, 256, 512, 2, 4, 2,
                false, false, 10000.0, 128, 1e-5, null), 3, SyntheticModel.HUB_SHARD_BYTES);
        Files.copy(shared.resolve("tiny-llama/tokenizer.json"), wide.resolve("tokenizer.json"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        try (PluginRegistry plugins = PluginRegistry.standard(Fixtures.distribution().resolve("plugins"))) {
            for (String type : List.of("f32", "q8_0", "q4_0")) {
                String out = check(py, shared.resolve("tiny-llama"), export(plugins, shared.resolve("tiny-llama"), type, work.resolve("tl-" + type + ".gguf")));
                if (!type.equals("f32")) {
                    assertTrue(out.contains("26 byte-equal"), "every Q tensor of tiny-llama (all but the F16 ffn_down) equals gguf-py's bytes: " + out);
                }
            }
            check(py, wide, export(plugins, wide, "q4_k", work.resolve("wide-q4_k.gguf")));
        }
    }
}
