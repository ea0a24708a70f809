/** Test fixture plugin 'duplicate-name'. */
module com.example.duplicate {
    requires org.fmsmo.api;

    provides org.fmsmo.api.quant.QuantMethodProvider with com.example.fmsmo.duplicate.DuplicateRtnProvider;
}
