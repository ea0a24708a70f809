package org.fmsmo.tests;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.fmsmo.api.arch.ModelArchitectureProvider;
import org.fmsmo.core.plugin.PluginRegistry;
import org.fmsmo.tck.ModelArchitectureConformance;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.TestInstance;

/**
 * The architecture conformance kit, run by every built-in architecture (on the config.json that
 * transformers wrote for its fixture) and by the third-party fixture plugin {@code meta-llama},
 * loaded from its jar in a plugins folder as a user would install it.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ArchitectureConformanceTest {

    private static final Path ARCHS = Path.of("../fmsmo-core/src/test/resources/archs");

    private PluginRegistry plugins;

    @BeforeAll
    void load() throws Exception {
        Path dir = Fixtures.freshDir("architecture-plugins");
        Files.copy(Fixtures.fixtureJar("meta-llama"), dir.resolve("meta-llama.jar"));
        plugins = PluginRegistry.builder().application().pluginsDirectory(dir).build();
    }

    @AfterAll
    void close() {
        plugins.close();
    }

    /** A built-in, on its fixture's config. */
    abstract class BuiltIn extends ModelArchitectureConformance {
        private final String name;
        private final String fixture;

        BuiltIn(String name, String fixture) {
            this.name = name;
            this.fixture = fixture;
        }

        @Override
        protected ModelArchitectureProvider provider() {
            return plugins.get(ModelArchitectureProvider.class, name);
        }

        @Override
        protected ObjectNode config() {
            try {
                return (ObjectNode) new ObjectMapper().readTree(ARCHS.resolve(fixture).resolve("config.json").toFile());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    @Nested
    class Llama extends BuiltIn {
        Llama() {
            super("llama", "llama3");
        }
    }

    @Nested
    class Mistral extends BuiltIn {
        Mistral() {
            super("mistral", "mistral");
        }
    }

    @Nested
    class Qwen2 extends BuiltIn {
        Qwen2() {
            super("qwen2", "qwen2");
        }
    }

    @Nested
    class Qwen3 extends BuiltIn {
        Qwen3() {
            super("qwen3", "qwen3");
        }
    }

    @Nested
    class Granite extends BuiltIn {
        Granite() {
            super("granite", "granite");
        }
    }

    @Nested
    class Phi3 extends BuiltIn {
        Phi3() {
            super("phi3", "phi3");
        }
    }

    @Nested
    class Gemma2 extends BuiltIn {
        Gemma2() {
            super("gemma2", "gemma2");
        }
    }

    @Nested
    class Gemma3 extends BuiltIn {
        Gemma3() {
            super("gemma3", "gemma3");
        }
    }

    @Nested
    class Mixtral extends BuiltIn {
        Mixtral() {
            super("mixtral", "mixtral");
        }
    }

    @Nested
    class Qwen3Moe extends BuiltIn {
        Qwen3Moe() {
            super("qwen3_moe", "qwen3_moe");
        }
    }

    @Nested
    class Gpt2 extends BuiltIn {
        Gpt2() {
            super("gpt2", "gpt2");
        }
    }

    @Nested
    class ModernBert extends BuiltIn {
        ModernBert() {
            super("modernbert", "modernbert");
        }
    }

    @Nested
    class Roberta extends BuiltIn {
        Roberta() {
            super("roberta", "roberta");
        }
    }

    /** The third-party fixture: Llama under Meta's original tensor names. */
    @Nested
    class MetaLlama extends ModelArchitectureConformance {
        @Override
        protected ModelArchitectureProvider provider() {
            return plugins.get(ModelArchitectureProvider.class, "meta-llama");
        }

        @Override
        protected ObjectNode config() {
            return json("""
                    {"model_type": "meta_llama", "vocab_size": 300, "hidden_size": 64, "intermediate_size": 160,
                     "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                     "rms_norm_eps": 1e-5, "rope_theta": 500000.0, "max_position_embeddings": 256}""");
        }
    }
}
