package org.fmsmo.core.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
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
        StringBuilder text = new StringBuilder();
        forEachPiece(file, what, 1 << 20, piece -> { // one decoder loop for both: pieces cut at line breaks join back exactly
            text.append(piece);
            return true;
        });
        return text.toString();
    }

    /**
     * Reads a UTF-8 text file in pieces of at most {@code maxChars} characters and hands them to
     * {@code piece} in order, until the file ends or {@code piece} returns false. A piece ends
     * after its last line break; in a line longer than {@code maxChars}, after its last
     * whitespace; in a run of that many characters without one, anywhere. Memory stays bounded by
     * {@code maxChars} whatever the file's lines (a 50 MB one-line file read whole took 8.5 GB in
     * the tokenizer), and a caller that has what it needs stops reading.
     *
     * @throws FmsmoException as {@link #readUtf8}, with the bad byte's offset in the file
     */
    public static void forEachPiece(Path file, String what, int maxChars, java.util.function.Predicate<String> piece) {
        CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.allocate(1 << 16);
        CharBuffer out = CharBuffer.allocate(maxChars);
        long base = 0; // file offset of in's first byte
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(file, java.nio.file.StandardOpenOption.READ)) {
            boolean eof = false;
            while (true) {
                if (!eof && ch.read(in) < 0) {
                    eof = true;
                }
                in.flip();
                CoderResult r = decoder.decode(in, out, eof);
                if (r.isError()) {
                    long at = base + in.position();
                    throw new FmsmoException(ErrorCode.CORRUPT_INPUT, String.format(Locale.ROOT, "%s %s is not UTF-8 text: byte 0x%02X at offset %d",
                            what, file, in.get(in.position()) & 0xFF, at));
                }
                base += in.position();
                in.compact();
                if (r.isOverflow()) {
                    if (!piece.test(cut(out))) {
                        return;
                    }
                } else if (eof && in.position() == 0) {
                    decoder.flush(out);
                    out.flip();
                    if (out.hasRemaining()) {
                        piece.test(out.toString());
                    }
                    return;
                }
            }
        } catch (NoSuchFileException e) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, what + " " + file + " does not exist");
        } catch (IOException e) {
            throw new FmsmoException(ErrorCode.IO_ERROR, "cannot read " + what + " " + file + ": " + e.getMessage(), e);
        }
    }

    /** The full buffer's text up to its last line break (else whitespace, else all of it); the rest stays in the buffer. */
    private static String cut(CharBuffer buffer) {
        buffer.flip();
        String text = buffer.toString();
        int end = text.lastIndexOf('\n') + 1;
        for (int i = text.length() - 1; end == 0 && i > 0; i--) {
            if (Character.isWhitespace(text.charAt(i))) {
                end = i + 1;
            }
        }
        if (end == 0) {
            end = Character.isHighSurrogate(text.charAt(text.length() - 1)) ? text.length() - 1 : text.length();
        }
        buffer.clear();
        buffer.put(text, end, text.length());
        return text.substring(0, end);
    }
}
