/** Test fixture plugin 'meta-llama': a third-party architecture. */
module com.example.metallama {
    requires org.fmsmo.api;

    provides org.fmsmo.api.arch.ModelArchitectureProvider with com.example.fmsmo.metallama.MetaLlamaArchitecture;
}
