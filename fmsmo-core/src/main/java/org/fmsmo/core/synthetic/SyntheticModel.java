package org.fmsmo.core.synthetic;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.fmsmo.core.model.transformer.TransformerTensors;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.fmsmo.core.io.safetensors.Dtype;
import org.fmsmo.core.io.safetensors.FloatConversions;
import org.fmsmo.core.io.safetensors.SafetensorsWriter;
import org.fmsmo.core.io.safetensors.TensorData;

/**
 * Writes a Hugging Face checkpoint with a published model's exact shapes and random BF16 weights
 * whose statistics look trained: linear weights and embeddings N(0, 0.02), norm weights near 1,
 * and a few hidden channels whose input norms are 8–16× larger in every layer — the activation
 * outliers real LLMs have and that SmoothQuant, AWQ and GPTQ's act-order react to. Sharded like
 * the hub ({@code model-0000k-of-0000n.safetensors} + index), with a word-level
 * {@code tokenizer.json} over the model's vocabulary. Reproducible for a seed; tensors are
 * generated in parallel chunks and streamed, so no tensor is ever held whole.
 */
public final class SyntheticModel {

    /** Hub-style shard size. */
    public static final long HUB_SHARD_BYTES = 5_000_000_000L;

    static final double WEIGHT_STD = 0.02;
    static final double NORM_STD = 0.05;

    /** Elements per generated chunk; each chunk has its own seed, so the result does not depend on the thread count. */
    private static final int CHUNK = 1 << 20;

    private SyntheticModel() {
    }

    /**
     * @param dir must not exist; written atomically
     */
    public static Path write(Path dir, ModelShape shape, long seed, long maxShardBytes) {
        int[] outliers = outlierChannels(shape.hidden(), seed);
        List<TensorData> t = new ArrayList<>();
        t.add(gaussian("model.embed_tokens.weight", seed, 0, WEIGHT_STD, null, shape.vocab(), shape.hidden()));
        for (int i = 0; i < shape.layers(); i++) {
            for (Map.Entry<String, long[]> e : shape.layerTensors(i)) {
                boolean norm = e.getKey().endsWith("layernorm.weight");
                t.add(norm ? gaussian(e.getKey(), seed, 1, NORM_STD, outliers, e.getValue())
                        : gaussian(e.getKey(), seed, 0, WEIGHT_STD, null, e.getValue()));
            }
        }
        t.add(gaussian("model.norm.weight", seed, 1, NORM_STD, null, shape.hidden()));
        if (!shape.tiedEmbeddings()) {
            t.add(gaussian("lm_head.weight", seed, 0, WEIGHT_STD, null, shape.vocab(), shape.hidden()));
        }
        return SafetensorsWriter.writeModel(dir, t, Map.of("format", "pt"), maxShardBytes, Map.of(),
                Map.of("config.json", shape.config().toPrettyString(), "tokenizer.json", tokenizer(shape.vocab())));
    }

    /**
     * A checkpoint of any {@link org.fmsmo.api.arch.TransformerSpec} architecture: the tensors its {@link TransformerSpec} reads
     * ({@link TransformerTensors}), N(0, 0.02) weights and gains near their identity (1, or 0 for a
     * unit-offset norm), BF16, with {@code config} as its {@code config.json} and a word-level
     * tokenizer.
     *
     * @param dir must not exist; written atomically
     */
    public static Path write(Path dir, com.fasterxml.jackson.databind.node.ObjectNode config, org.fmsmo.api.arch.TransformerSpec spec, long seed) {
        double gain = spec.norm() == org.fmsmo.api.arch.TransformerSpec.Norm.RMS_UNIT_OFFSET ? 0 : 1;
        List<TensorData> t = new ArrayList<>();
        for (TransformerTensors.Tensor x : TransformerTensors.of(spec)) {
            t.add(gaussian(x.name(), seed, x.gain() ? gain : 0, x.gain() ? NORM_STD : WEIGHT_STD, null, x.shape()));
        }
        return SafetensorsWriter.writeModel(dir, t, Map.of("format", "pt"), HUB_SHARD_BYTES, Map.of(),
                Map.of("config.json", config.toPrettyString(), "tokenizer.json", tokenizer(spec.vocabSize())));
    }

    /** About one hidden channel in 1,000 (at least two), the same in every layer, as in trained models. */
    static int[] outlierChannels(int hidden, long seed) {
        SplittableRandom r = new SplittableRandom(seed ^ 0x6f75746c69657273L);
        return r.ints(Math.max(2, hidden / 1000), 0, hidden).distinct().sorted().toArray();
    }

    /**
     * N(mean, std) values, BF16; channels listed in {@code outliers} (of a 1-D tensor) get 8–16
     * instead.
     */
    static TensorData gaussian(String name, long seed, double mean, double std, int[] outliers, long... shape) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        long count = n;
        long tensorSeed = seed * 0x9E3779B97F4A7C15L + name.hashCode();
        return new TensorData(name, Dtype.BF16, shape, ch -> {
            int chunks = Math.toIntExact((count + CHUNK - 1) / CHUNK);
            int parallel = 4 * Runtime.getRuntime().availableProcessors();
            for (int first = 0; first < chunks; first += parallel) {
                int from = first;
                ByteBuffer[] parts = IntStream.range(from, Math.min(chunks, from + parallel)).parallel()
                        .mapToObj(k -> chunk(tensorSeed, k, count, mean, std, outliers)).toArray(ByteBuffer[]::new);
                for (ByteBuffer b : parts) {
                    write(ch, b);
                }
            }
        });
    }

    private static ByteBuffer chunk(long tensorSeed, int k, long count, double mean, double std, int[] outliers) {
        long start = (long) k * CHUNK;
        int len = (int) Math.min(CHUNK, count - start);
        SplittableRandom r = new SplittableRandom(tensorSeed + k * 0xBF58476D1CE4E5B9L);
        ByteBuffer b = ByteBuffer.allocate(len * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < len; i++) {
            b.putShort(FloatConversions.floatToBf16((float) (mean + std * r.nextGaussian())));
        }
        if (outliers != null) {
            for (int c : outliers) {
                if (c >= start && c < start + len) {
                    b.putShort((int) (c - start) * 2, FloatConversions.floatToBf16((float) (8 + 8 * r.nextDouble())));
                }
            }
        }
        return b.flip();
    }

    private static void write(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    /**
     * A word-level {@code tokenizer.json}: token {@code i} is the word {@code w<i>} (0 is
     * {@code <unk>}, 1 {@code <s>}, 2 {@code </s>}), split on whitespace. It makes the folder
     * loadable by any Hugging Face tool; calibration uses random token ids.
     */
    static String tokenizer(int vocab) {
        ObjectMapper json = new ObjectMapper();
        ObjectNode root = json.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        var added = root.putArray("added_tokens");
        String[] special = {"<unk>", "<s>", "</s>"};
        for (int i = 0; i < special.length; i++) {
            added.addObject().put("id", i).put("content", special[i]).put("single_word", false).put("lstrip", false).put("rstrip", false)
                    .put("normalized", false).put("special", true);
        }
        root.putNull("normalizer");
        root.putObject("pre_tokenizer").put("type", "Whitespace");
        root.putNull("post_processor");
        root.putNull("decoder");
        ObjectNode model = root.putObject("model");
        model.put("type", "WordLevel");
        ObjectNode v = model.putObject("vocab");
        for (int i = 0; i < vocab; i++) {
            v.put(i < special.length ? special[i] : "w" + i, i);
        }
        model.put("unk_token", "<unk>");
        return root.toString();
    }
}
