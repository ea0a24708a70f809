package org.fmsmo.core.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import org.fmsmo.core.eval.Evaluator;
import org.fmsmo.core.model.Streaming;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code fmsmo eval}: perplexity or embedding fidelity, size and throughput of a model folder. */
@Command(name = "eval", description = {
        "Evaluate a model folder or an exported .gguf file.",
        "Causal LMs get perplexity over a text file; encoders the cosine of their sentence embeddings against --reference",
        "(one sentence per line); both get size and tokens/s."})
final class EvalCommand implements Callable<Integer> {

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Hugging Face model folder.")
    Path model;

    @Option(names = "--data", required = true, paramLabel = "FILE", description = "UTF-8 text (LM) or one sentence per line (encoder).")
    Path data;

    @Option(names = "--reference", paramLabel = "DIR", description = "A model to compare with (e.g. the unquantized original).")
    Path reference;

    @Option(names = "--seq-len", defaultValue = "128", paramLabel = "N",
            description = "Perplexity window: non-overlapping windows of N tokens (default: ${DEFAULT-VALUE}).")
    int seqLen;

    @Option(names = "--batch-size", defaultValue = "8", paramLabel = "N", description = "Windows or sentences per forward (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--max-tokens", defaultValue = "256", paramLabel = "N", description = "Encoder sentence length cap (default: ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--streaming", defaultValue = "auto", paramLabel = "MODE", description = "Causal LMs: evaluate block by block, one decoder"
            + " block in memory at a time (same numbers): auto (when the whole model's FLOAT32 weights would exceed 3/4 of memory), on, off"
            + " (default: ${DEFAULT-VALUE}).")
    String streaming;

    @Option(names = "--json", description = "Print one JSON object.")
    boolean json;

    @picocli.CommandLine.Mixin
    BackendOptions backend;

    @Option(names = "--check-layers", description = "With --backend: also run each backend layer's simulated layer on the same input "
            + "and report the largest relative deviation (layer_check).")
    boolean checkLayers;

    @Option(names = "--no-verify", description = "Load the model without checking its files against the SHA256SUMS fmsmo wrote beside them.")
    boolean noVerify;

    @picocli.CommandLine.Mixin
    PluginOptions plugins;

    @picocli.CommandLine.Mixin
    ProgressOptions progressOptions;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        org.fmsmo.api.quant.ProgressListener progress = progressOptions.listener(spec.commandLine().getErr());
        Map<String, Object> r;
        try (org.fmsmo.core.plugin.PluginRegistry registry = plugins.openRegistry()) {
            plugins.checkStrict(registry);
            Evaluator evaluator = new Evaluator(new org.fmsmo.core.checkpoint.ModelLoader(registry));
            if (!backend.selected()) {
                r = evaluator.evaluate(model, verified(new Evaluator.Options(data, reference, seqLen, batchSize, maxTokens,
                        Streaming.parse("--streaming", streaming))), progress);
            } else {
                try (org.fmsmo.api.deploy.DeployBackend b = backend.open(registry)) {
                    r = evaluator.evaluate(model, verified(new Evaluator.Options(data, reference, seqLen, batchSize, maxTokens, backend.label(), b,
                            checkLayers, Streaming.parse("--streaming", streaming))), progress);
                }
            }
        }
        if (json) {
            out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(r));
        } else {
            r.forEach((k, v) -> out.printf("%-22s %s%n", k, v));
        }
        return 0;
    }

    private Evaluator.Options verified(Evaluator.Options o) {
        return noVerify ? o.withoutVerify() : o;
    }
}
