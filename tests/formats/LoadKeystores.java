import java.io.FileInputStream;
import java.security.KeyStore;
import java.util.Collections;

/** Loads each keystore (type, path) with the password changeit, which verifies its digest,
 *  and prints every alias with its creation date in ms. */
public class LoadKeystores {
    public static void main(String[] args) throws Exception {
        for (int i = 0; i < args.length; i += 2) {
            KeyStore store = KeyStore.getInstance(args[i]);
            try (FileInputStream in = new FileInputStream(args[i + 1])) {
                store.load(in, "changeit".toCharArray());
            }
            for (String alias : Collections.list(store.aliases())) {
                System.out.println(args[i + 1] + " " + alias + " " + store.getCreationDate(alias).getTime());
            }
        }
    }
}
