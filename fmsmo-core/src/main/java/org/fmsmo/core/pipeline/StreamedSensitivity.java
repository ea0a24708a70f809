package org.fmsmo.core.pipeline;

import ai.djl.ndarray.NDManager;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.regex.Pattern;
import org.fmsmo.api.model.LinearLayer;
import org.fmsmo.api.quant.ProgressListener;
import org.fmsmo.api.quant.QuantConfig;
import org.fmsmo.api.quant.QuantMethod;
import org.fmsmo.core.calibration.CalibrationData;
import org.fmsmo.core.calibration.HiddenStates;
import org.fmsmo.core.context.BlockScope;
import org.fmsmo.core.context.DefaultQuantContext;
import org.fmsmo.core.eval.Perplexity;
import org.fmsmo.core.model.BlockView;
import org.fmsmo.core.model.StreamedModel;
import org.fmsmo.core.nn.Module;
import org.fmsmo.core.plugin.PluginRegistry;

/**
 * {@link Sensitivity} of a decoder one block in memory at a time, whatever the model's size. The
 * held-out windows' and the calibration examples' hidden states walk through the float blocks
 * once. At block {@code b}, for each of its layers in turn: a fresh copy of the block has that one
 * layer quantized by the method (calibrated on the float hidden states at the block's input), the
 * held-out hidden states at {@code b} (saved once per block) go through it and then through the
 * float blocks after it, one at a time, and the head scores them: their perplexity, and the KL
 * divergence of their next-token distributions from the float model's (whose last hidden states
 * are kept from the first walk). The perplexities are those of a
 * whole-model run that quantizes the one layer and evaluates, to float rounding: the same
 * windows meet the same operations.
 *
 * <p>Memory: one block (two while a layer's copy is measured), the head while scoring, and the
 * hidden states, those beyond 2 GB in files of the work folder.
 */
final class StreamedSensitivity implements AutoCloseable {

    private final StreamedModel model;
    private final QuantMethod method;
    private final QuantConfig config;
    private final PluginRegistry plugins;
    private final CalibrationData calibration;
    private final CalibrationData windows;
    private final long[] ids;
    private final HiddenStates.Offload offload;
    private final Path work;
    private final NDManager root = NDManager.newBaseManager();
    private final Map<String, Long> layers = new LinkedHashMap<>();
    private final Map<String, Integer> blockOf = new LinkedHashMap<>();
    private final double referenceNll;
    /** The held-out windows' hidden states after the last float block: the reference the KL divergence is taken from. */
    private final HiddenStates floatOut;

    /**
     * One layer's measurement on the held-out text.
     *
     * @param perplexity the model's perplexity with the layer quantized
     * @param kl         the mean KL divergence of its next-token distributions from the float model's, nats per token
     */
    record Measurement(double perplexity, double kl) {
    }

    /**
     * Opens the model and measures the float model: its layers (the head is outside the blocks)
     * and its held-out NLL.
     *
     * @param calibration null for a method without calibration
     * @param ids         the held-out token ids
     * @param work        an empty folder for offloaded hidden states, the caller's to remove
     * @throws CancellationException when the progress listener asks
     */
    StreamedSensitivity(StreamedModel model, QuantMethod method, QuantConfig config, PluginRegistry plugins, CalibrationData calibration,
                        long[] ids, Path work, ProgressListener progress) {
        this.model = model;
        this.method = method;
        this.config = config;
        this.plugins = plugins;
        this.calibration = calibration;
        this.ids = ids;
        this.windows = Perplexity.windows(ids, Quantization.EVAL_WINDOW, Quantization.EVAL_BATCH);
        this.offload = new HiddenStates.Offload(work, HiddenStates.Offload.DEFAULT_BUDGET);
        this.work = work;
        progress.begin("float model on the held-out text", model.numBlocks(), "blocks");
        HiddenStates eval = HiddenStates.embed(windows, root, model::blockInput, offload);
        try {
            for (int b = 0; b < model.numBlocks(); b++) {
                if (progress.isCancelled()) {
                    throw new CancellationException("sensitivity cancelled while measuring the float model");
                }
                try (NDManager m = root.newSubManager()) {
                    Module block = model.loadBlock(b, m);
                    for (LinearLayer l : view(block, m).linearLayers()) {
                        layers.put(l.name(), l.inFeatures() * l.outFeatures());
                        blockOf.put(l.name(), b);
                    }
                    Perplexity.advance(model, block, b, eval);
                }
                progress.advance(1);
            }
            referenceNll = Perplexity.headNll(model, eval, ids, Quantization.EVAL_WINDOW, root);
        } catch (RuntimeException e) {
            eval.close();
            throw e;
        } finally {
            progress.end();
        }
        floatOut = eval;
    }

    /** The linear layers inside the blocks, in model order, with their weights' element counts. */
    Map<String, Long> layers() {
        return layers;
    }

    /** The float model's held-out perplexity. */
    double referencePerplexity() {
        return perplexity(referenceNll);
    }

    /**
     * Measures the {@code pending} layers block by block, telling {@code measured} each one's
     * held-out perplexity as soon as it is known.
     *
     * @throws CancellationException when the progress listener asks, between two layers
     */
    void measure(Set<String> pending, java.util.function.BiConsumer<String, Measurement> measured, ProgressListener progress) {
        int last = pending.stream().mapToInt(blockOf::get).max().orElse(-1);
        try (HiddenStates eval = HiddenStates.embed(windows, root, model::blockInput, offload);
             HiddenStates calib = calibration == null ? null : HiddenStates.embed(calibration, root, model::blockInput, offload)) {
            for (int b = 0; b <= last; b++) {
                final int block = b;
                List<String> here = layers.keySet().stream().filter(n -> blockOf.get(n) == block && pending.contains(n)).toList();
                if (!here.isEmpty()) {
                    Path saved = work.resolve("eval-block-" + b + ".safetensors");
                    eval.save(saved);
                    for (String layer : here) {
                        if (progress.isCancelled()) {
                            throw new CancellationException("sensitivity cancelled before layer " + layer);
                        }
                        progress.item(layer);
                        measured.accept(layer, quantized(b, layer, calib, saved));
                    }
                    org.fmsmo.core.io.OutputFiles.deleteTree(saved);
                }
                try (NDManager m = root.newSubManager()) { // both walks move on through the float block
                    Module floatBlock = model.loadBlock(b, m);
                    Perplexity.advance(model, floatBlock, b, eval);
                    if (calib != null && b < last) {
                        calib.advance(s -> model.runBlock(floatBlock, s.hidden(), s.mask()));
                    }
                }
            }
        }
    }

    /** The held-out text's perplexity and KL divergence with {@code layer} of block {@code b} quantized and the rest in float. */
    private Measurement quantized(int b, String layer, HiddenStates calib, Path evalAtBlock) {
        try (HiddenStates eval = HiddenStates.embed(windows, root, model::blockInput, offload)) {
            eval.restore(evalAtBlock);
            try (NDManager m = root.newSubManager()) {
                Module block = model.loadBlock(b, m);
                BlockView view = view(block, m);
                QuantConfig one = config.with("qlayer_name_pattern", List.of("^" + Pattern.quote(layer) + "$"));
                DefaultQuantContext context = new DefaultQuantContext(new BlockScope(model, block, view, calib, w -> {
                }), StreamedRun.plan(model, block, view, m, one), one, plugins, ProgressListener.NONE);
                method.quantize(context);
                Perplexity.advance(model, block, b, eval);
            }
            for (int j = b + 1; j < model.numBlocks(); j++) {
                try (NDManager m = root.newSubManager()) {
                    Perplexity.advance(model, model.loadBlock(j, m), j, eval);
                }
            }
            double[] nllKl = Perplexity.headNllAndKl(model, eval, floatOut, ids, Quantization.EVAL_WINDOW, root);
            return new Measurement(perplexity(nllKl[0]), nllKl[1] / tokens());
        }
    }

    private BlockView view(Module block, NDManager m) {
        return new BlockView(model.config().architecture(model.config().modelType()), block, m);
    }

    private double perplexity(double nll) {
        return Math.exp(nll / tokens());
    }

    /** Tokens scored: every position of every window. */
    private double tokens() {
        return (double) windows.size() * Quantization.EVAL_WINDOW;
    }

    @Override
    public void close() {
        floatOut.close();
        root.close();
    }
}
