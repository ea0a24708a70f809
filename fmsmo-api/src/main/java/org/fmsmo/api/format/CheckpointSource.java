package org.fmsmo.api.format;

import java.util.Set;
import org.fmsmo.api.Experimental;

/** A stored checkpoint as a {@link CheckpointFormat} reads it. */
@Experimental(since = "1.0")
public interface CheckpointSource {

    /** Where it is, for messages. */
    String location();

    /** {@code config.json}'s {@code quantization_config} as maps, lists, strings, numbers, booleans and nulls. */
    java.util.Map<String, Object> quantizationConfig();

    /** Names of every stored tensor. */
    Set<String> names();

    /**
     * One stored tensor.
     *
     * @throws org.fmsmo.api.FmsmoException {@link org.fmsmo.api.ErrorCode#CORRUPT_INPUT} when absent
     */
    StoredTensor tensor(String name);
}
