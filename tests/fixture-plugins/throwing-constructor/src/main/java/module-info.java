/** Test fixture plugin 'throwing-constructor'. */
module com.example.throwing {
    requires org.fmsmo.api;

    provides org.fmsmo.api.quant.QuantMethodProvider with com.example.fmsmo.throwing.ThrowingProvider;
}
