package org.fmsmo.core.cli;

import java.nio.file.Path;
import org.fmsmo.core.io.OutputFolder;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.fmsmo.core.synthetic.ModelShape;
import org.fmsmo.core.synthetic.SyntheticModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code fmsmo synthesize}: a checkpoint with a published model's shapes and random trained-like weights. */
@Command(name = "synthesize", description = {
        "Write a random checkpoint with a published model's exact shapes.",
        "BF16 weights (N(0, 0.02) linears, norms near 1, a few outlier channels), sharded like the hub, a word-level tokenizer.",
        "For memory and speed benchmarks at real scale; calibrate it with --calibration random."})
final class SynthesizeCommand implements Callable<Integer> {

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--like", required = true, paramLabel = "NAME", description = "Model shapes: llama-3-8b, llama-3.2-1b, qwen2.5-7b, mistral-7b.")
    String like;

    @Option(names = "--layers", paramLabel = "N", description = "Decoder layers (default: the model's own).")
    Integer layers;

    @Option(names = "--seed", defaultValue = "0", paramLabel = "N", description = "Random seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--max-shard-size", defaultValue = "5000000000", paramLabel = "BYTES", description = "Shard size (default: ${DEFAULT-VALUE}, as the hub).")
    long maxShardBytes;

    @Option(names = "--output", required = true, paramLabel = "DIR", description = "Output folder (must not exist).")
    Path output;

    @Override
    public Integer call() {
        ModelShape shape = ModelShape.preset(like);
        if (layers != null) {
            shape = shape.withLayers(layers);
        }
        OutputFolder.check(Path.of("").toAbsolutePath().resolve(".fmsmo-no-input"), output, false);
        long start = System.nanoTime();
        spec.commandLine().getErr().printf(Locale.ROOT, "writing %s-shaped checkpoint: %d layers, %.2fB parameters, %.2f GB in BF16%n",
                shape.name(), shape.layers(), shape.parameters() / 1e9, shape.parameters() * 2 / 1e9);
        SyntheticModel.write(output, shape, seed, maxShardBytes);
        spec.commandLine().getOut().printf(Locale.ROOT, "%s  %s  %d layers  %.2fB parameters  %.1f s%n", output, shape.name(), shape.layers(),
                shape.parameters() / 1e9, (System.nanoTime() - start) / 1e9);
        return 0;
    }
}
