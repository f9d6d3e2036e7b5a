//! `clients/js/src/protocol.ts` is the generated module, byte for byte (no Node needed).
//! `UPDATE_PROTOCOL_TS=1` writes it instead.

use std::path::Path;

use socketioxide_jwt_protocol::typescript;

#[test]
fn the_typescript_module_is_generated_from_this_crate() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../clients/js/src/protocol.ts");
    let generated = typescript::module();
    if std::env::var_os("UPDATE_PROTOCOL_TS").is_some() {
        std::fs::write(&path, &generated).expect("write protocol.ts");
        return;
    }
    let on_disk = std::fs::read_to_string(&path).expect("read clients/js/src/protocol.ts");
    assert!(
        on_disk == generated,
        "clients/js/src/protocol.ts is not what this crate generates: run `{}`",
        typescript::REGENERATE
    );
}
