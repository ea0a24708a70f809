package org.fmsmo.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.fmsmo.core.io.safetensors.SafetensorsModel;
import org.fmsmo.core.io.safetensors.TensorInfo;
import org.fmsmo.core.synthetic.ModelShape;
import org.fmsmo.core.synthetic.SyntheticModel;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every class of bad input the reliability probe found (issue 22), run through the assembled
 * command line on a small synthetic Llama the test writes (no ../shared needed). For each
 * refusal: the documented exit status, exactly one {@code error:} line that names the problem,
 * no stack trace, nothing written (neither the output nor a hidden temporary beside it), the
 * inputs byte for byte unchanged, and a peak RSS under {@link #RSS_BOUND} with the Java heap
 * capped at 512 MB. Inputs that are not errors but once took unbounded memory (a group wider than
 * the row, a 50 MB calibration line) must succeed under the same bound.
 */
class BadInputCliTest {

    /** Peak resident memory any case may reach (a tiny-model run takes ~0.4 GB; the failures took 4 to 24 GB). */
    static final long RSS_BOUND = 1_500_000_000L;

    private static final ModelShape SHAPE = new ModelShape("bad-input-llama", "llama", "LlamaForCausalLM", 512, 128, 256, 2, 4, 2, false, false,
            10000.0, 256, 1e-5, null);

    private static Path work;
    private static Path model;
    private static Path calibration;
    private static Path quantized;
    private static String modelDigest;

    record Run(int exit, String out, String err, long peakRss) {
    }

    @BeforeAll
    static void setUp() throws Exception {
        work = Fixtures.freshDir("bad-input-" + System.nanoTime());
        model = work.resolve("model");
        SyntheticModel.write(model, SHAPE, 5, SyntheticModel.HUB_SHARD_BYTES);
        calibration = work.resolve("calib.txt");
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < 4000; i++) {
            text.append('w').append(i % 500).append(i % 37 == 36 ? "\n" : " ");
        }
        Files.writeString(calibration, text);
        quantized = work.resolve("rtn-ct");
        Run q = fmsmo("quantize", "--model", model.toString(), "--method", "rtn", "--bits", "4", "--group-size", "64", "--format",
                "compressed-tensors", "--output", quantized.toString());
        assertEquals(0, q.exit(), q.err());
        modelDigest = digest(model);
    }

    @Test
    void flagsOutOfRangeAreRefusedBeforeAnyWork() throws Exception {
        refused(2, "--seq-len", "quantize", "--method", "gptq", "--seq-len", "0");
        refused(2, "--seq-len", "quantize", "--method", "gptq", "--seq-len", "-3");
        refused(2, "--seq-len", "quantize", "--method", "dq", "--seq-len", "0");
        refused(2, "--seq-len", "quantize", "--method", "fp8", "--scheme", "FP8", "--seq-len", "0");
        refused(2, "--batch-size", "quantize", "--method", "gptq", "--batch-size", "0");
        refused(2, "--num-samples", "quantize", "--method", "gptq", "--num-samples", "0");
        refused(2, "damp", "quantize", "--method", "gptq", "--damp-percent", "NaN");
        refused(2, "smoothq_alpha", "quantize", "--method", "dq", "--smoothq-alpha", "NaN");
        refused(2, "--bits", "quantize", "--method", "gptq", "--bits", "9");
        refused(2, "--group-size", "quantize", "--method", "rtn", "--group-size", "0");
        refused(2, "--eval-tokens", "quantize", "--method", "rtn", "--eval-tokens", "0");
        refused(2, "does not exist", "quantize", "--method", "rtn", "--eval-data", "/nonexistent/held-out.txt");
        // picocli's own parse errors keep the one-line form
        refused(2, "--seq-len", "quantize", "--method", "gptq", "--seq-len", "1e9");
        refused(2, "--seed", "quantize", "--method", "gptq", "--shuffle", "--seed", "abc");
        refused(2, "noequals", "quantize", "--method", "rtn", "--set", "noequals");
        refused(2, "--no-such-flag", "quantize", "--method", "rtn", "--no-such-flag");
    }

    @Test
    void layerNamesAndFormatsThatCannotMatchAreRefused() throws Exception {
        refused(2, "nosuchlayer", "quantize", "--method", "rtn", "--ignore", "nosuchlayer");
        refused(2, "[[[", "quantize", "--method", "rtn", "--set", "qskip_layer_name=[[[");
        refused(4, "group size dividing", "quantize", "--method", "rtn", "--group-size", "7", "--format", "compressed-tensors");
        refused(4, "group size dividing", "quantize", "--method", "rtn", "--group-size", "7", "--format", "gptq");
        refused(2, "unknown", "quantize", "--method", "rtn", "--format", "gguf");
    }

    @Test
    void exportRefusesWhatItCannotWriteBeforeWriting() throws Exception {
        exportRefused(model, 2, "gguf_type", "--set", "gguf_typ=q4_0"); // unknown key: the closest is named
        exportRefused(model, 2, "q5_0", "--set", "gguf_type=q5_0");
        exportRefused(model, 2, "not to export format 'gguf'", "--set", "nbits_w=4");
        exportRefused(model, 2, "unknown export-format", "--format", "onnx-nope");
        // the synthetic model's tokenizer is word-level, which llama.cpp's gpt2 tokenizer cannot stand for
        exportRefused(model, 4, "byte-level BPE");
        Path bin = work.resolve("model.bin");
        Run r = run("export", "--model", model.toString(), "--output", bin.toString());
        assertRefused(r, 2, ".gguf");
        assertFalse(Files.exists(bin));

        // What the config and tokenizer tell is checked before the weights are loaded (a 7B model
        // takes minutes and most of memory to load): with its weights gone, the folder is still
        // refused for its tokenizer (GGUF) and, for a one-file ONNX graph, for an embedding table past
        // protobuf's 2 GiB, not for the weights.
        Path noWeights = copyModel("no-weights");
        try (var files = Files.list(noWeights)) {
            for (Path f : files.filter(f -> f.getFileName().toString().contains(".safetensors")).toList()) {
                Files.delete(f);
            }
        }
        exportRefused(noWeights, 4, "byte-level BPE");
        var json = new com.fasterxml.jackson.databind.ObjectMapper();
        var config = (com.fasterxml.jackson.databind.node.ObjectNode) json.readTree(noWeights.resolve("config.json").toFile());
        Files.writeString(noWeights.resolve("config.json"), config.put("vocab_size", 5_000_000).toPrettyString());
        Path onnx = work.resolve("out-onnx");
        assertRefused(run("export", "--model", noWeights.toString(), "--format", "onnx", "--set", "onnx_external_data=never", "--output",
                onnx.toString()), 4, "embedding table alone would take 2560000000 bytes");
        assertFalse(Files.exists(onnx));
    }

    @Test
    void aDamagedOrUnknownModelFileIsNamed() throws Exception {
        Path bad = work.resolve("bad.gguf");
        Files.write(bad, "GGUX and then nothing".getBytes(StandardCharsets.US_ASCII));
        evalRefused(bad, 5, "does not start with GGUF");
        Path cut = work.resolve("cut.gguf");
        byte[] head = new byte[24];
        java.nio.ByteBuffer.wrap(head).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(0x46554747).putInt(3).putLong(1L << 40).putLong(1);
        Files.write(cut, head);
        evalRefused(cut, 5, "more than the file can hold");
        Path other = work.resolve("model.xyz");
        Files.writeString(other, "x");
        evalRefused(other, 2, ".gguf");
    }

    /** {@code fmsmo export} of {@code input} to a fresh {@code .gguf}: refused, nothing left behind, the input unchanged. */
    private static void exportRefused(Path input, int exit, String mentions, String... extra) throws Exception {
        Path out = work.resolve("out-" + System.nanoTime() + ".gguf");
        List<String> all = new ArrayList<>(List.of("export", "--model", input.toString(), "--output", out.toString()));
        all.addAll(List.of(extra));
        String before = digest(input);
        assertRefused(run(all.toArray(String[]::new)), exit, mentions);
        try (var left = Files.list(work)) {
            assertFalse(Files.exists(out) || left.anyMatch(p -> p.getFileName().toString().startsWith("." + out.getFileName())), "nothing written for " + all);
        }
        assertEquals(before, digest(input), "input unchanged by " + all);
    }

    @Test
    void badInputFilesAreNamedWithWhatIsWrong() throws Exception {
        Path latin1 = work.resolve("latin1.txt");
        Files.write(latin1, "caf\u00e9 w1 w2".getBytes(StandardCharsets.ISO_8859_1));
        refused(5, "offset 3", "quantize", "--method", "gptq", "--calibration", latin1.toString());
        refused(2, "does not exist", "quantize", "--method", "gptq", "--calibration", work.resolve("none.txt").toString());
        Path recipe = work.resolve("recipe.json");
        Files.writeString(recipe, "{\"confg\": {\"nbits_w\": 4}}");
        refused(5, "confg", "quantize", "--method", "rtn", "--recipe", recipe.toString());
        Path badConfig = copyModel("bad-rope");
        var json = new com.fasterxml.jackson.databind.ObjectMapper();
        var config = (com.fasterxml.jackson.databind.node.ObjectNode) json.readTree(badConfig.resolve("config.json").toFile());
        Files.writeString(badConfig.resolve("config.json"), config.put("rope_theta", -1).toPrettyString());
        refusedOn(badConfig, 5, "rope_theta", "quantize", "--method", "rtn");
    }

    @Test
    void outputsThatWouldOverwriteOrCannotBeWrittenAreRefused() throws Exception {
        Path link = work.resolve("link-to-model");
        Files.deleteIfExists(link);
        Files.createSymbolicLink(link, model);
        Run r = run("quantize", "--model", model.toString(), "--method", "rtn", "--output", link.resolve("out").toString());
        assertRefused(r, 2, "overlaps the input");
        assertFalse(Files.exists(model.resolve("out")), "nothing written inside the input");
        Path file = work.resolve("a-file");
        Files.writeString(file, "x");
        assertRefused(run("quantize", "--model", model.toString(), "--method", "rtn", "--output", file.resolve("sub/out").toString()), 5,
                "not a folder");
        Path full = Files.createDirectories(work.resolve("not-empty"));
        Files.writeString(full.resolve("keep.txt"), "mine");
        assertRefused(run("quantize", "--model", model.toString(), "--method", "rtn", "--output", full.toString()), 2, "--force");
        assertEquals("mine", Files.readString(full.resolve("keep.txt")));
        assertEquals(modelDigest, digest(model), "input unchanged");
    }

    @Test
    void corruptQuantizedCheckpointsAreCaughtOnLoad() throws Exception {
        Path flipped = copyQuantized("flipped");
        poke(flipped, "model.layers.1.mlp.up_proj.weight_packed", new byte[] {0x55});
        evalRefused(flipped, 5, "SHA-256");
        Path nanScale = copyQuantized("nan-scale");
        TensorInfo scale = info(nanScale, "model.layers.0.self_attn.q_proj.weight_scale");
        poke(nanScale, scale.name(), switch (scale.dtype().name()) {
            case "F32" -> new byte[] {0, 0, (byte) 0xC0, 0x7F};
            case "BF16" -> new byte[] {(byte) 0xC0, 0x7F};
            default -> new byte[] {0, 0x7E}; // F16
        });
        evalRefused(nanScale, 5, "SHA-256");
        evalRefused(nanScale, 5, "finite scales", "--no-verify");
        Path badShape = copyQuantized("bad-shape");
        poke(badShape, "model.layers.0.self_attn.q_proj.weight_shape", new byte[] {(byte) 0xFB, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF});
        evalRefused(badShape, 5, "weight_shape", "--no-verify");
    }

    /** import-onnx checks the head count and the tokenizer before it writes a folder that eval would then refuse. */
    @Test
    void importOnnxValidatesBeforeWriting() throws Exception {
        Path src = Files.createDirectories(work.resolve("minilm-src"));
        for (String name : List.of("all-minilm-l6-v2.onnx", "all-minilm-l6-v2-tokenizer.json")) {
            try (var in = getClass().getClassLoader().getResourceAsStream(name)) {
                assertTrue(in != null, name + " is not on the test class path");
                Files.copy(in, src.resolve(name), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
        }
        Path badTokenizer = work.resolve("bad-tokenizer.json");
        Files.writeString(badTokenizer, "{\"model\": [");
        String onnx = src.resolve("all-minilm-l6-v2.onnx").toString();
        String tokenizer = src.resolve("all-minilm-l6-v2-tokenizer.json").toString();
        // Not JSON at all: the native tokenizer library aborted the JVM (exit 134) on a file like this (found by fuzzing).
        Path aborting = work.resolve("aborting-tokenizer.json");
        Files.writeString(aborting, "{\"model\": {\"type\": \"WordLevel\", \"vocab\": {\"<unk>\": 0}, \"unk_token\": \"<unk>\"}, \"decoder\":ull}");
        // Valid JSON the library still aborts on (a panic while parsing, reproduced with tokenizers 0.21): deep nesting,
        // an escaped lone surrogate and an out-of-range number in the decoder, a Precompiled normalizer whose charsmap is not base64.
        String wordLevel = "{\"model\": {\"type\": \"WordLevel\", \"vocab\": {\"<unk>\": 0, \"a\": 1}, \"unk_token\": \"<unk>\"}, ";
        Map<String, String[]> panics = new java.util.LinkedHashMap<>();
        panics.put("deep", new String[] {"\"decoder\": " + "[".repeat(200) + "]".repeat(200) + "}", "nested deeper than 100 levels"});
        panics.put("surrogate", new String[] {"\"decoder\": {\"type\": \"Replace\", \"pattern\": {\"String\": \"\\ud800\"}, \"content\": \"x\"}}",
            "lone surrogate"});
        panics.put("huge-number", new String[] {"\"decoder\": {\"type\": \"Strip\", \"content\": \" \", \"start\": 1e400, \"stop\": 0}}",
            "beyond the double range"});
        panics.put("charsmap", new String[] {"\"normalizer\": {\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"Precompiled\","
            + " \"precompiled_charsmap\": \"!!!\"}]}}", "not base64"});
        List<String[]> all = new java.util.ArrayList<>(List.of(new String[][] {{"5", tokenizer, "does not divide the hidden size 384"},
            {"0", tokenizer, "positive head count"}, {"6", tokenizer, "disagrees with the graph"}, {"12", badTokenizer.toString(), "not valid JSON"},
            {"12", aborting.toString(), "not valid JSON"}}));
        for (Map.Entry<String, String[]> p : panics.entrySet()) {
            Path file = work.resolve(p.getKey() + "-tokenizer.json");
            Files.writeString(file, wordLevel + p.getValue()[0]);
            all.add(new String[] {"12", file.toString(), p.getValue()[1]});
        }
        String[][] cases = all.toArray(String[][]::new);
        for (String[] c : cases) {
            Path out = work.resolve("imported-" + System.nanoTime());
            Run r = run("import-onnx", "--onnx", onnx, "--tokenizer", c[1], "--output", out.toString(), "--num-heads", c[0]);
            assertRefused(r, c[1].equals(tokenizer) ? 2 : 5, c[2]);
            assertNothingWritten(out);
        }
    }

    /** A plugin jar whose service file unpacks to 300 MB is skipped with its reason; the host runs on under a 128 MB heap. */
    @Test
    void aZipBombPluginIsSkippedNotFatal() throws Exception {
        Path dir = Files.createDirectories(work.resolve("bomb-plugins"));
        try (ZipOutputStream z = new ZipOutputStream(Files.newOutputStream(dir.resolve("bomb.jar")))) {
            z.putNextEntry(new ZipEntry("META-INF/MANIFEST.MF"));
            z.write("Manifest-Version: 1.0\nPlugin-Id: bomb\nPlugin-Version: 1.0.0\nPlugin-Requires: >=1.0\n\n".getBytes(StandardCharsets.UTF_8));
            z.putNextEntry(new ZipEntry("META-INF/services/org.fmsmo.api.quant.QuantMethodProvider"));
            byte[] a = new byte[1 << 20];
            java.util.Arrays.fill(a, (byte) 'a');
            for (int i = 0; i < 300; i++) {
                z.write(a);
            }
        }
        Run r = fmsmo(Map.of("FMSMO_JAVA_OPTS", "-Xmx128m"), "plugins", "--plugins-dir", dir.toString());
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("bomb") && (r.out() + r.err()).contains("unpacks to over"), r.out() + r.err());
        assertTrue(r.peakRss() < RSS_BOUND, "peak RSS " + r.peakRss());
        assertRefused(run("plugins", "--plugins-dir", work.resolve("no-such-dir").toString()), 2, "no-such-dir");
    }

    /** Inputs that are fine but once took unbounded memory: a group wider than the row, a 50 MB one-line calibration file. */
    @Test
    void largeButValidInputsRunInBoundedMemory() throws Exception {
        Path out = work.resolve("wide-group");
        Run wide = run("quantize", "--model", model.toString(), "--method", "rtn", "--group-size", "1000000", "--output", out.toString());
        assertEquals(0, wide.exit(), wide.err());
        assertTrue(wide.peakRss() < RSS_BOUND, "peak RSS " + wide.peakRss());
        Path line = work.resolve("one-line.txt");
        try (var w = Files.newBufferedWriter(line)) {
            for (int i = 0; i < 10_000_000; i++) {
                w.write(i == 0 ? "w1" : i % 7 == 0 ? " w3" : " w12");
            }
        }
        Run big = run("quantize", "--model", model.toString(), "--method", "gptq", "--calibration", line.toString(), "--num-samples", "4",
                "--seq-len", "64", "--output", work.resolve("big-line").toString());
        assertEquals(0, big.exit(), big.err());
        assertTrue(big.peakRss() < RSS_BOUND, "peak RSS " + big.peakRss() + " for a " + Files.size(line) + "-byte line");
        assertEquals(modelDigest, digest(model), "input unchanged");
    }

    /** SIGTERM mid-run: exit 143, one line saying what was interrupted, no temporary left beside the output. */
    @Test
    void anInterruptedRunSaysSoAndLeavesNoTemporaries() throws Exception {
        Path out = work.resolve("interrupted");
        List<String> cmd = new ArrayList<>(List.of(Fixtures.distribution().resolve("bin/fmsmo").toString(), "quantize", "--model", model.toString(),
                "--method", "gptq", "--calibration", calibration.toString(), "--num-samples", "64", "--seq-len", "64", "--streaming", "off",
                "--output", out.toString()));
        ProcessBuilder pb = environment(new ProcessBuilder(cmd), Map.of());
        Path err = work.resolve("interrupted.err");
        pb.redirectErrorStream(false).redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(err.toFile());
        Process p = pb.start();
        // wait until the run has started its work (the progress line), then stop it
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (p.isAlive() && System.nanoTime() < deadline && !Files.readString(err).contains("gptq")) {
            Thread.sleep(50);
        }
        p.destroy(); // SIGTERM
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the run did not stop after SIGTERM");
        String text = Files.readString(err);
        if (p.exitValue() == 0) {
            System.out.println("the run finished before SIGTERM reached it; nothing to check");
            return;
        }
        assertEquals(143, p.exitValue(), text);
        assertEquals(1, text.lines().filter(l -> l.startsWith("error:")).count(), text);
        assertTrue(text.contains("error: interrupted") && !text.contains("\tat "), text);
        if (Files.exists(out)) { // the signal came after the output was committed: it is whole and said so
            assertTrue(text.contains(out.getFileName() + " had been written whole"), text);
            assertTrue(Files.exists(out.resolve("config.json")), "a committed output is whole");
            return;
        }
        assertNothingWritten(out);
    }

    // ---------------------------------------------------------------------------------------------

    private static void refused(int exit, String mentions, String... args) throws Exception {
        refusedOn(model, exit, mentions, args);
    }

    /** Runs {@code args} on {@code input} with a fresh output and the calibration file, and checks the refusal. */
    private static void refusedOn(Path input, int exit, String mentions, String... args) throws Exception {
        List<String> all = new ArrayList<>(List.of(args));
        all.addAll(1, List.of("--model", input.toString()));
        int m = all.indexOf("--method");
        if (m >= 0 && !all.get(m + 1).equals("rtn")) { // calibrated methods get a small calibration unless the case sets it
            for (String[] flag : new String[][] {{"--calibration", calibration.toString()}, {"--num-samples", "4"}, {"--seq-len", "32"}}) {
                if (!all.contains(flag[0])) {
                    all.addAll(List.of(flag));
                }
            }
        }
        Path out = work.resolve("out-" + System.nanoTime());
        all.addAll(List.of("--output", out.toString()));
        String before = digest(input);
        Run r = run(all.toArray(String[]::new));
        assertRefused(r, exit, mentions);
        assertNothingWritten(out);
        assertEquals(before, digest(input), "input unchanged by " + all);
    }

    private static void evalRefused(Path dir, int exit, String mentions, String... extra) throws Exception {
        List<String> all = new ArrayList<>(List.of("eval", "--model", dir.toString(), "--data", calibration.toString(), "--seq-len", "32"));
        all.addAll(List.of(extra));
        String before = digest(dir);
        assertRefused(run(all.toArray(String[]::new)), exit, mentions);
        assertEquals(before, digest(dir), "input unchanged");
    }

    private static void assertRefused(Run r, int exit, String mentions) {
        String what = "stderr:\n" + r.err();
        assertEquals(exit, r.exit(), what);
        assertEquals(1, r.err().lines().filter(l -> l.startsWith("error:")).count(), "one error line; " + what);
        assertTrue(r.err().contains(mentions), "the error names '" + mentions + "'; " + what);
        assertFalse(r.err().contains("\tat ") || r.err().contains("Exception in thread"), "no stack trace; " + what);
        assertTrue(r.peakRss() < RSS_BOUND, "peak RSS " + r.peakRss() + "; " + what);
    }

    /** Neither the output nor any hidden sibling of it (temporary, partial) exists. */
    private static void assertNothingWritten(Path out) throws IOException {
        assertFalse(Files.exists(out), out + " was written");
        try (Stream<Path> s = Files.list(out.getParent())) {
            List<Path> left = s.filter(p -> p.getFileName().toString().startsWith("." + out.getFileName())).toList();
            assertTrue(left.isEmpty(), "temporaries left: " + left);
        }
    }

    private static Run run(String... args) throws Exception {
        return fmsmo(Map.of("FMSMO_JAVA_OPTS", "-Xmx512m"), args);
    }

    private static Run fmsmo(String... args) throws Exception {
        return fmsmo(Map.of(), args);
    }

    /** Runs the launcher, sampling the JVM's peak RSS (VmHWM; the launcher execs java) until it exits. */
    private static Run fmsmo(Map<String, String> env, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Fixtures.distribution().resolve("bin/fmsmo").toString()));
        cmd.addAll(List.of(args));
        Path out = Files.createTempFile(work, "out", ".txt");
        Path err = Files.createTempFile(work, "err", ".txt");
        Process p = environment(new ProcessBuilder(cmd), env).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        long peak = 0;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
        Path status = Path.of("/proc", Long.toString(p.pid()), "status");
        while (p.isAlive() && System.nanoTime() < deadline) {
            try {
                for (String l : Files.readAllLines(status)) {
                    if (l.startsWith("VmHWM:")) {
                        peak = Math.max(peak, Long.parseLong(l.replaceAll("\\D", "")) * 1024);
                    }
                }
            } catch (IOException | NumberFormatException gone) {
                // exited between the check and the read
            }
            p.waitFor(20, TimeUnit.MILLISECONDS);
        }
        assertTrue(p.waitFor(1, TimeUnit.SECONDS), "fmsmo " + String.join(" ", args) + " did not finish in 180 s");
        return new Run(p.exitValue(), Files.readString(out), Files.readString(err), peak);
    }

    private static ProcessBuilder environment(ProcessBuilder pb, Map<String, String> env) {
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        pb.environment().put("FMSMO_CACHE_DIR", Fixtures.property("fmsmo.work").resolve("cache").toString());
        pb.environment().putAll(env);
        return pb;
    }

    private static Path copyModel(String name) throws IOException {
        Path to = work.resolve(name);
        Fixtures.copyTree(model, to);
        Files.deleteIfExists(to.resolve("SHA256SUMS"));
        return to;
    }

    private static Path copyQuantized(String name) throws IOException {
        Path to = work.resolve(name);
        Fixtures.copyTree(quantized, to);
        return to;
    }

    private static TensorInfo info(Path dir, String tensor) {
        try (SafetensorsModel m = SafetensorsModel.open(dir)) {
            return m.info(tensor);
        }
    }

    /** Overwrites the first bytes of a tensor's data in a single-file checkpoint. */
    private static void poke(Path dir, String tensor, byte[] bytes) throws IOException {
        long at = info(dir, tensor).begin();
        try (FileChannel c = FileChannel.open(dir.resolve("model.safetensors"), StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            c.read(len, 0);
            c.write(ByteBuffer.wrap(bytes), 8 + len.getLong(0) + at);
        }
    }

    /** SHA-256 over a file tree's relative names and bytes. */
    private static String digest(Path root) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.filter(Files::isRegularFile).sorted().toList()) {
                md.update(root.relativize(p).toString().getBytes(StandardCharsets.UTF_8));
                md.update(Files.readAllBytes(p));
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }
}
