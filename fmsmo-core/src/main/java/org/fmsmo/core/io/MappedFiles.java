package org.fmsmo.core.io;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.function.BiFunction;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;

/**
 * How fmsmo reads large inputs: the whole file mapped read-only into a shared arena (FFM
 * segments have no 2 GiB limit), parsed in place. The arena belongs to what the parser returns;
 * when parsing fails it is closed here, so a bad file leaves no mapping behind.
 */
public final class MappedFiles {

    private MappedFiles() {
    }

    /**
     * @param parser builds the result from the arena and the file's bytes; the result owns the arena
     * @throws FmsmoException {@link ErrorCode#IO_ERROR} when the file cannot be read; the parser's own errors pass through
     */
    public static <T> T parse(Path path, BiFunction<Arena, MemorySegment, T> parser) {
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            return parser.apply(arena, ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena));
        } catch (IOException e) {
            arena.close();
            throw new FmsmoException(ErrorCode.IO_ERROR, "cannot read " + path + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }
}
