//! Issue a token, load it back, and watch a tampered and an expired token being refused.
//!
//!     cargo run --example quickstart
//!     ITSCLASSIFIED_KEYS=$(itsclassified keygen) cargo run --example quickstart

use std::time::{Duration, SystemTime};

use itsclassified::{Error, SecretKey, TimedSerializer};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug)]
struct Session {
    user_id: String,
    role: String,
}

fn main() -> Result<(), Error> {
    let keys = match std::env::var_os("ITSCLASSIFIED_KEYS") {
        Some(_) => {
            let keys = SecretKey::list_from_env("ITSCLASSIFIED_KEYS")?;
            println!("keys: {} from ITSCLASSIFIED_KEYS", keys.len());
            keys
        }
        None => {
            println!("keys: ITSCLASSIFIED_KEYS is not set, so a fresh key was generated");
            println!("      (tokens made now will not load in another run)");
            vec![SecretKey::generate()]
        }
    };
    let serializer =
        TimedSerializer::with_keys(keys, "session")?.max_age(Duration::from_secs(3600));
    println!("primary key id: {}", serializer.primary_key_id());

    let session = Session {
        user_id: "123".into(),
        role: "admin".into(),
    };
    let token = serializer.dumps(&session)?;
    println!("\ntoken ({} characters):\n  {token}", token.len());

    let loaded = serializer.loads_with_meta::<Session>(&token)?;
    println!(
        "loaded: {:?} (age {:?}, key {})",
        loaded.payload, loaded.meta.age, loaded.meta.key_id
    );

    let mut tampered = token.clone().into_bytes();
    let i = tampered.len() / 2;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("token is ASCII");
    match serializer.loads::<Session>(&tampered) {
        Err(e) => println!("\ntampered token refused: {e}"),
        Ok(_) => unreachable!("a tampered token loaded"),
    }

    let two_hours_ago = SystemTime::now() - Duration::from_secs(2 * 3600);
    let old = serializer.dumps_at(&session, two_hours_ago)?;
    match serializer.loads::<Session>(&old) {
        Err(e @ Error::Expired { age, max_age, .. }) => {
            println!("expired token refused: {e} (age {age:?}, max_age {max_age:?})")
        }
        other => unreachable!("an expired token gave {other:?}"),
    }
    Ok(())
}
