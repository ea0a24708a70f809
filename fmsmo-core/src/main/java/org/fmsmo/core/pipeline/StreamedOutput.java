package org.fmsmo.core.pipeline;

import ai.djl.ndarray.NDArray;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.format.CheckpointFormat;
import org.fmsmo.api.format.StoredTensor;
import org.fmsmo.core.checkpoint.CheckpointFormats;
import org.fmsmo.core.checkpoint.FormatSink;
import org.fmsmo.core.io.Checksums;
import org.fmsmo.core.io.OutputFiles;
import org.fmsmo.core.io.safetensors.Dtype;
import org.fmsmo.core.io.safetensors.SafetensorsModel;
import org.fmsmo.core.io.safetensors.ShardedWriter;
import org.fmsmo.core.io.safetensors.TensorData;
import org.fmsmo.core.io.safetensors.TensorInfo;
import org.fmsmo.core.model.BlockView;
import org.fmsmo.core.checkpoint.ModelWriter;
import org.fmsmo.core.model.StreamedModel;
import org.fmsmo.core.nn.Module;
import org.fmsmo.core.nn.NativeMemory;

/**
 * A streamed run's output folder, written as the run goes: the mapped input's tensors outside the
 * blocks are copied through byte for byte, each finished block's tensors are written at once
 * (quantized layers as the format lays them out, everything else in the input's dtype), all into
 * hub-style shards in the run's partial folder that {@link #commit} renames into place. A run
 * resumed after a crash goes on from the shard writer's last checkpoint.
 */
final class StreamedOutput {

    private final StreamedModel source;
    private final String formatName;
    private final CheckpointFormat format;
    private final Path tmp;
    private final ShardedWriter shards;
    private final FormatSink sink = new FormatSink();

    /**
     * @param partial the run's partial folder ({@link RunJournal#partialFolder}), which exists
     * @param resume  the shard writer's checkpoint to go on from, or null to start over (files of an earlier attempt are removed)
     */
    StreamedOutput(StreamedModel source, String formatName, CheckpointFormat format, Path partial, long maxShardBytes, Map<String, Object> resume) {
        this.source = source;
        this.formatName = formatName;
        this.format = format;
        this.tmp = partial;
        Map<String, String> metadata = Map.of("format", "pt");
        if (resume != null) {
            this.shards = ShardedWriter.resume(tmp, maxShardBytes, metadata, resume);
            return;
        }
        try (var files = Files.list(tmp)) {
            for (Path p : files.filter(p -> !p.getFileName().toString().equals(RunJournal.DIR)).toList()) {
                OutputFiles.deleteTree(p);
            }
        } catch (IOException e) {
            throw new FmsmoException(ErrorCode.IO_ERROR, "cannot clear " + tmp + ": " + e.getMessage(), e);
        }
        this.shards = new ShardedWriter(tmp, maxShardBytes, metadata);
    }

    /** Makes what was written so far durable and says where the writer is, for {@link RunJournal.Checkpoint#writer}. */
    Map<String, Object> checkpoint() {
        return shards.checkpoint();
    }

    /** Copies stored tensors through unchanged (embeddings, final norm, an unquantized head). */
    void copyThrough(List<String> names) {
        SafetensorsModel in = source.checkpoint();
        for (String name : names) {
            TensorInfo info = in.info(name);
            MemorySegment bytes = in.file(name).bytes(name);
            shards.add(new TensorData(name, info.dtype(), info.shape(), ch -> {
                long done = 0;
                long chunk = 1 << 24;
                while (done < bytes.byteSize()) {
                    ByteBuffer b = bytes.asSlice(done, Math.min(chunk, bytes.byteSize() - done)).asByteBuffer();
                    while (b.hasRemaining()) {
                        ch.write(b);
                    }
                    done += Math.min(chunk, bytes.byteSize() - done);
                }
            }));
            in.file(name).release(name);
        }
    }

    /** Writes a finished block: its frozen layers through the format, its other parameters in the input's dtype. */
    void writeBlock(Module block, BlockView view) {
        Map<String, Map<String, StoredTensor>> replaced = sink.replaced();
        format.writeLayers(view, sink);
        block.forEachParameterLazily(block.path(), (name, array) -> {
            Map<String, StoredTensor> instead = name.endsWith(".weight") ? replaced.remove(name.substring(0, name.length() - 7)) : null;
            if (instead != null) {
                instead.forEach((n, t) -> shards.add(FormatSink.tensorData(n, t)));
            } else {
                shards.add(floats(name, array.get()));
            }
        });
        sink.takeAdded().forEach(shards::add);
        if (!replaced.isEmpty()) {
            throw new IllegalStateException("the format replaced layers that are not in block " + block.path() + ": " + replaced.keySet());
        }
    }

    private TensorData floats(String name, NDArray a) {
        SafetensorsModel in = source.checkpoint();
        Dtype stored = in.names().contains(name) ? in.info(name).dtype() : Dtype.F32;
        Dtype dtype = stored == Dtype.BF16 || stored == Dtype.F16 ? stored : Dtype.F32;
        return NativeMemory.tensorData(name, dtype, a);
    }

    /** Ends the format's description, writes config.json and the companion files, and renames the folder to {@code target}. */
    Path commit(Path target) {
        format.finish(source.outerLinears(), sink);
        shards.finish();
        ObjectNode config = source.config().json();
        CheckpointFormats.describe(config, formatName, format, sink);
        try {
            Files.writeString(tmp.resolve("config.json"), config.toPrettyString());
            for (Map.Entry<String, String> e : sink.text().entrySet()) {
                Files.writeString(tmp.resolve(e.getKey()), e.getValue());
            }
            Path dir = source.checkpoint().dir();
            for (String f : ModelWriter.COMPANION_FILES) {
                if (Files.isRegularFile(dir.resolve(f))) {
                    Files.createDirectories(tmp.resolve(f).getParent());
                    Files.copy(dir.resolve(f), tmp.resolve(f));
                }
            }
            Checksums.write(tmp);
            org.fmsmo.core.io.OutputFiles.commit(tmp, target, false);
            return target;
        } catch (IOException e) {
            throw new FmsmoException(ErrorCode.IO_ERROR, "cannot write " + target + ": " + e.getMessage(), e);
        }
    }

    /** Removes the partial folder: a run that failed in a way that a rerun would not mend. */
    void discard() {
        OutputFiles.deleteTree(tmp);
    }
}
