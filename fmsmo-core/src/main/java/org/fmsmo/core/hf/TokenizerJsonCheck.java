package org.fmsmo.core.hf;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Base64;
import java.util.Deque;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;

/**
 * Reads a {@code tokenizer.json} through in Java, in one streaming pass, before the native
 * tokenizers library sees it. The library (Rust, behind JNI) turns some parse errors into a panic,
 * and a panic across JNI aborts the whole process (exit 134) instead of raising an exception.
 * Found by fuzzing and reproduced with the library DJL bundles (tokenizers 0.21):
 * <ul>
 *   <li>text that is not JSON;</li>
 *   <li>inside {@code decoder}, what its JSON parser refuses though JSON allows it: nesting deeper
 *       than 128 levels, an escaped lone surrogate ({@code "\ud800"}), a number beyond the double
 *       range ({@code 1e400});</li>
 *   <li>a {@code Precompiled} normalizer whose {@code precompiled_charsmap} is not base64 of a
 *       charsmap (4-byte trie size, then the trie and the normalized strings).</li>
 * </ul>
 * The first three are refused anywhere in the file (no real tokenizer has them); each refusal is a
 * {@link ErrorCode#CORRUPT_INPUT} error naming the file and the place.
 */
final class TokenizerJsonCheck {

    /** Deepest nesting accepted; the library's JSON parser stops at 128, real files stay under 10. */
    static final int MAX_DEPTH = 100;

    private final Path file;

    private TokenizerJsonCheck(Path file) {
        this.file = file;
    }

    /** @throws FmsmoException {@link ErrorCode#CORRUPT_INPUT} naming what the library could not survive */
    static void check(Path file) {
        new TokenizerJsonCheck(file).run();
    }

    private void run() {
        JsonFactory factory = JsonFactory.builder()
                .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(MAX_DEPTH).build()).build();
        try (JsonParser p = factory.createParser(file.toFile())) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw bad("expected a JSON object", p);
            }
            // Per open object: the value of its "type" and its "precompiled_charsmap", whichever comes first.
            Deque<String[]> objects = new ArrayDeque<>();
            objects.push(new String[2]);
            String field = null;
            for (JsonToken t = p.nextToken(); t != null; t = p.nextToken()) {
                switch (t) {
                    case START_OBJECT -> objects.push(new String[2]);
                    case END_OBJECT -> {
                        String[] o = objects.pop();
                        if ("Precompiled".equals(o[0])) {
                            checkCharsmap(o[1], p);
                        }
                        if (objects.isEmpty()) {
                            if (p.nextToken() != null) {
                                throw bad("text after the JSON object", p);
                            }
                            return;
                        }
                    }
                    case FIELD_NAME -> {
                        field = p.currentName();
                        checkText(field, p);
                    }
                    case VALUE_STRING -> {
                        String s = p.getText();
                        checkText(s, p);
                        if (p.getParsingContext().inObject() && !objects.isEmpty()) {
                            if ("type".equals(field)) {
                                objects.peek()[0] = s;
                            } else if ("precompiled_charsmap".equals(field)) {
                                objects.peek()[1] = s;
                            }
                        }
                    }
                    case VALUE_NUMBER_FLOAT -> {
                        if (Double.isInfinite(p.getDoubleValue())) {
                            throw bad("number " + p.getText() + " is beyond the double range", p);
                        }
                    }
                    case VALUE_NUMBER_INT -> {
                        if (p.getNumberType() == JsonParser.NumberType.BIG_INTEGER && p.getBigIntegerValue().abs().compareTo(MAX_DOUBLE) > 0) {
                            throw bad("number " + p.getText() + " is beyond the double range", p);
                        }
                    }
                    default -> {
                    }
                }
            }
            throw bad("the JSON object is not closed", p);
        } catch (com.fasterxml.jackson.core.exc.StreamConstraintsException e) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, file + " is not a Hugging Face tokenizer the library can read: JSON nested deeper than "
                    + MAX_DEPTH + " levels" + where(e), e);
        } catch (JsonProcessingException e) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, file + " is not valid JSON, so not a Hugging Face tokenizer: " + e.getOriginalMessage() + where(e), e);
        } catch (IOException e) {
            throw new FmsmoException(ErrorCode.IO_ERROR, "cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    private static String where(JsonProcessingException e) {
        return e.getLocation() == null ? "" : " (line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr() + ")";
    }

    private static final BigInteger MAX_DOUBLE = new java.math.BigDecimal(Double.MAX_VALUE).toBigInteger();

    /** A lone surrogate is valid in JSON text ({@code "\ud800"}) but not in the library's strings. */
    private void checkText(String s, JsonParser p) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                throw bad("a string holds the lone surrogate \\u" + Integer.toHexString(c), p);
            }
        }
    }

    /** A charsmap is a little-endian u32 trie size in bytes, the trie (u32 units), then the normalized strings. */
    private void checkCharsmap(String base64, JsonParser p) {
        if (base64 == null) {
            throw bad("a Precompiled normalizer without its precompiled_charsmap", p);
        }
        byte[] bytes;
        try {
            bytes = Base64.getDecoder().decode(base64);
        } catch (IllegalArgumentException e) {
            throw bad("precompiled_charsmap is not base64 (" + e.getMessage() + ")", p);
        }
        long trie = bytes.length < 4 ? -1 : Integer.toUnsignedLong(ByteBuffer.wrap(bytes, 0, 4).order(ByteOrder.LITTLE_ENDIAN).getInt());
        if (trie < 0 || trie % 4 != 0 || 4 + trie > bytes.length) {
            throw bad("precompiled_charsmap of " + bytes.length + " bytes does not hold the trie its header announces (" + trie + " bytes)", p);
        }
    }

    private FmsmoException bad(String what, JsonParser p) {
        var at = p.currentLocation();
        return new FmsmoException(ErrorCode.CORRUPT_INPUT, file + " is not a Hugging Face tokenizer the library can read: " + what
                + " (line " + at.getLineNr() + ", column " + at.getColumnNr() + ")");
    }
}
