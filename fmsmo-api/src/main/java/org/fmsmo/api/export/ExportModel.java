package org.fmsmo.api.export;

import java.util.Map;
import java.util.Optional;
import org.fmsmo.api.Experimental;
import org.fmsmo.api.arch.ArchitectureSpec;
import org.fmsmo.api.arch.ModelConfig;
import org.fmsmo.api.quant.QuantConfig;

/**
 * What an export can be checked against before the model's weights are loaded: its config and
 * architecture, the export's options, and the files beside the weights (the tokenizer). A model
 * of many GB takes minutes and most of memory to load; a format that cannot hold it says so from
 * these first ({@link ExportFormat#checkBeforeLoading}).
 */
@Experimental(since = "1.10")
public interface ExportModel {

    /** Where the model is read from, for messages. */
    String location();

    /** Its {@code config.json}. */
    ModelConfig config();

    /** What its architecture provider described. */
    ArchitectureSpec architecture();

    /** The export's options ({@code --set}): the provider's own keys, checked. */
    QuantConfig options();

    /**
     * A JSON file of the model folder ({@code tokenizer.json}, {@code tokenizer_config.json}) as
     * maps, lists, strings, numbers, booleans and nulls; empty when absent.
     *
     * @throws org.fmsmo.api.FmsmoException {@link org.fmsmo.api.ErrorCode#CORRUPT_INPUT} when it is not JSON
     */
    Optional<Map<String, Object>> jsonFile(String name);
}
