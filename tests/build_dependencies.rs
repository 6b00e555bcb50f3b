//! A fresh build needs no C compiler and no OpenSSL: the lock file holds
//! fizzflow's stand-in for isahc (vendor/isahc-unused), not the real one
//! with curl and openssl-sys behind it.

/// The lock file's packages as (name, version, source if any).
fn locked() -> Vec<(String, String, Option<String>)> {
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock"))
        .expect("Cargo.lock");
    let value = |line: &str, key: &str| {
        line.strip_prefix(key)
            .and_then(|v| v.strip_prefix(" = \""))
            .and_then(|v| v.strip_suffix('"'))
            .map(str::to_string)
    };
    let mut packages = Vec::new();
    for block in lock.split("[[package]]").skip(1) {
        let field = |key: &str| block.lines().find_map(|l| value(l, key));
        packages.push((
            field("name").expect("name"),
            field("version").expect("version"),
            field("source"),
        ));
    }
    packages
}

#[test]
fn no_curl_or_openssl_in_the_lock_file() {
    let packages = locked();
    let banned = [
        "curl",
        "curl-sys",
        "openssl-sys",
        "libnghttp2-sys",
        "libz-sys",
    ];
    assert!(packages.len() > 100, "parsed {} packages", packages.len());
    for (name, version, _) in &packages {
        assert!(
            !banned.contains(&name.as_str()),
            "{name} {version} is back in Cargo.lock: is the isahc patch gone?"
        );
    }
    let isahc: Vec<_> = packages.iter().filter(|p| p.0 == "isahc").collect();
    assert_eq!(
        isahc,
        [&("isahc".to_string(), "1.99.0".to_string(), None)],
        "isahc must be the path stand-in"
    );
}
