package org.fmsmo.core.quant;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import org.fmsmo.api.quant.Granularity;
import org.fmsmo.api.quant.QuantSpec;
import org.fmsmo.api.quant.QuantizedTensor;

/**
 * Block-wise statistics for a granularity: the blocks are the whole tensor (TENSOR), rows
 * (CHANNEL, TOKEN) or row × column-group (GROUP, last group possibly shorter). Results have the
 * shape {@link QuantizedTensor#scaleShape} gives. Arrays are created in the input's manager.
 */
final class Blocks {

    private Blocks() {
    }

    /** Max |x| per block. */
    static NDArray absMax(NDArray x, QuantSpec spec) {
        return reduce(x.abs(), spec, true);
    }

    /** Max x per block, at least 0 (so the grid always contains 0). */
    static NDArray max(NDArray x, QuantSpec spec) {
        return reduce(x, spec, true).maximum(0f);
    }

    /** Min x per block, at most 0. */
    static NDArray min(NDArray x, QuantSpec spec) {
        return reduce(x, spec, false).minimum(0f);
    }

    private static NDArray reduce(NDArray x, QuantSpec spec, boolean max) {
        Shape target = QuantizedTensor.scaleShape(spec, x.getShape());
        if (spec.granularity() == Granularity.TENSOR) {
            return (max ? x.max() : x.min()).reshape(target);
        }
        if (spec.granularity() != Granularity.GROUP) {
            return max ? x.max(new int[] {1}, true) : x.min(new int[] {1}, true);
        }
        long rows = x.getShape().get(0);
        long cols = x.getShape().get(1);
        long groups = target.get(1);
        // A group wider than the row is the whole row (one group): padding it to the group's width
        // would allocate rows × group_size, gigabytes for --group-size 1000000.
        long width = Math.min(spec.groupSize(), cols);
        long padded = groups * width;
        NDArray full = x;
        if (padded != cols) {
            // Pad the ragged last group with 0: max/min are clamped to include 0 anyway.
            full = x.concat(x.getManager().zeros(new Shape(rows, padded - cols), x.getDataType()), 1);
        }
        NDArray grouped = full.reshape(rows, groups, width);
        return max ? grouped.max(new int[] {2}) : grouped.min(new int[] {2});
    }

    /** {@code s} with zeros replaced by 1, so all-zero blocks quantize to code 0 (or the zero point) without dividing by 0. */
    static NDArray nonZero(NDArray s) {
        return s.add(s.eq(0f).toType(s.getDataType(), false));
    }
}
