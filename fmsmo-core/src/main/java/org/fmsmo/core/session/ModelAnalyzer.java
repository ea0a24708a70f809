package org.fmsmo.core.session;

import java.util.ServiceLoader;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.quant.QuantConfig;
import org.fmsmo.api.quant.QuantPlan;
import org.fmsmo.core.model.TransformerModel;

/**
 * Decides which layers to quantize and how. Implemented by the {@code fmsmo-analyzer} module,
 * which depends on core; core finds it through {@link ServiceLoader} so that the dependency
 * stays one-way.
 */
public interface ModelAnalyzer {

    /** The plan for {@code model} under {@code config}, from a traced forward pass. */
    QuantPlan plan(TransformerModel model, QuantConfig config);

    /**
     * The plan for one block of a streamed model, from a traced forward pass of that block alone.
     * The rules are the whole model's, applied to the block's layers; the outlier rule
     * ({@code qskip_large_mag_layers}) compares a layer with the block's median.
     *
     * @param block   the block's layers
     * @param forward runs the block once on any input
     */
    QuantPlan planBlock(org.fmsmo.api.model.QuantizableModel block, Runnable forward, QuantConfig config);

    /**
     * The installed analyzer.
     *
     * @throws FmsmoException {@link ErrorCode#UNKNOWN_NAME} when the analyzer module is missing
     */
    static ModelAnalyzer find() {
        return ServiceLoader.load(ModelAnalyzer.class, ModelAnalyzer.class.getClassLoader()).findFirst()
                .or(() -> ServiceLoader.load(ModelAnalyzer.class).findFirst())
                .orElseThrow(() -> new FmsmoException(ErrorCode.UNKNOWN_NAME,
                        "no model analyzer installed: put the fmsmo-analyzer jar (module org.fmsmo.analyzer) next to fmsmo-core"));
    }
}
