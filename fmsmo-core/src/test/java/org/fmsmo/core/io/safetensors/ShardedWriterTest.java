package org.fmsmo.core.io.safetensors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ShardedWriterTest {

    @Test
    void tensorsSplitIntoHubShardsWithAnIndexAndReadBack(@TempDir Path tmp) throws Exception {
        ShardedWriter w = new ShardedWriter(tmp, 100, Map.of("format", "pt"));
        for (int i = 0; i < 5; i++) {
            float[] v = new float[10 + i];
            for (int j = 0; j < v.length; j++) {
                v[j] = i * 100 + j;
            }
            w.add(TensorData.ofFloats("t" + i, Dtype.F32, new long[] {v.length}, v)); // 40, 44, 48, 52, 56 bytes: shards [t0 t1] [t2 t3] (exactly 100) [t4]
        }
        List<String> files = w.finish();
        assertEquals(List.of("model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors"), files);
        try (var left = Files.list(tmp)) {
            assertEquals(4, left.count(), "shards and index only, no data files left");
        }
        try (SafetensorsModel m = SafetensorsModel.open(tmp)) {
            for (int i = 0; i < 5; i++) {
                float[] v = m.floats("t" + i);
                assertEquals(10 + i, v.length);
                assertEquals(i * 100 + 9, v[9]);
            }
            assertEquals(tmp.resolve("model-00002-of-00003.safetensors"), m.file("t3").path());
        }
    }

    @Test
    void oneShardIsTheSingleFileTheWholeModelWriterWrites(@TempDir Path tmp) throws Exception {
        List<TensorData> t = List.of(TensorData.ofFloats("a", Dtype.BF16, new long[] {2, 3}, new float[] {1, 2, 3, 4, 5, 6}),
                TensorData.ofFloats("b", Dtype.F32, new long[] {1}, new float[] {7}));
        ShardedWriter w = new ShardedWriter(Files.createDirectory(tmp.resolve("s")), Long.MAX_VALUE, Map.of("format", "pt"));
        t.forEach(w::add);
        assertEquals(List.of("model.safetensors"), w.finish());
        SafetensorsWriter.writeModel(tmp.resolve("w"), t, Map.of("format", "pt"), Long.MAX_VALUE, Map.of());
        assertArrayEquals(Files.readAllBytes(tmp.resolve("w/model.safetensors")), Files.readAllBytes(tmp.resolve("s/model.safetensors")));
    }
}
