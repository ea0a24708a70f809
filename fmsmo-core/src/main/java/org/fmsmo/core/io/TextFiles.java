package org.fmsmo.core.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Locale;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;

/**
 * Text inputs (calibration and evaluation text, recipes) read whole as UTF-8, with errors that
 * name the file and say what is wrong where: the JDK's own message for a bad byte is
 * "Input length = 1".
 */
public final class TextFiles {

    private TextFiles() {
    }

    /**
     * @param what how errors name the file ({@code "calibration file"})
     * @throws FmsmoException {@link ErrorCode#INVALID_ARGUMENT} when it does not exist, {@link ErrorCode#CORRUPT_INPUT}
     *         when it is not UTF-8 (with the first bad byte's offset), {@link ErrorCode#IO_ERROR} when it cannot be read
     */
    public static String readUtf8(Path file, String what) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, what + " " + file + " does not exist");
        } catch (IOException e) {
            throw new FmsmoException(ErrorCode.IO_ERROR, "cannot read " + what + " " + file + ": " + e.getMessage(), e);
        }
        CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(bytes);
        CharBuffer out = CharBuffer.allocate(bytes.length); // UTF-8 never decodes to more chars than bytes
        CoderResult r = decoder.decode(in, out, true);
        if (!r.isError()) {
            r = decoder.flush(out);
        }
        if (r.isError()) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, String.format(Locale.ROOT, "%s %s is not UTF-8 text: byte 0x%02X at offset %d",
                    what, file, bytes[in.position()] & 0xFF, in.position()));
        }
        return out.flip().toString();
    }
}
