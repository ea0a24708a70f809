/** Test fixture plugin 'no-descriptor'. */
module com.example.nodescriptor {
    requires org.fmsmo.api;

    provides org.fmsmo.api.quant.QuantMethodProvider with com.example.fmsmo.nodescriptor.UndescribedProvider;
}
