//! Where the keys come from: an environment variable or a file, never the command line.

use std::path::{Path, PathBuf};

use clap::Args;
use itsclassified::{KeyError, KeyErrorKind, SecretKey};

use crate::fail::{code_for_key, eprintln_safe, one_line, Failure};
use crate::redact::{withhold_env_name, withhold_path};

/// The environment variable read when neither `--keys-env` nor `--keys-file` is given.
pub const DEFAULT_ENV: &str = "ITSCLASSIFIED_KEYS";

/// The options that choose where the keys are read from.
#[derive(Args, Debug, Clone, Default)]
pub struct KeyArgs {
    /// Read the keys from this environment variable instead of ITSCLASSIFIED_KEYS
    /// (base64, comma-separated, primary first)
    #[arg(
        long,
        value_name = "NAME",
        conflicts_with = "keys_file",
        value_parser = clap::builder::NonEmptyStringValueParser::new()
    )]
    pub keys_env: Option<String>,

    /// Read the keys from this file: one base64 key a line, primary first, '#' comments
    /// (warns if group or others may access it)
    #[arg(long, value_name = "PATH")]
    pub keys_file: Option<PathBuf>,
}

impl KeyArgs {
    fn env_var(&self) -> &str {
        self.keys_env.as_deref().unwrap_or(DEFAULT_ENV)
    }

    /// True when a key file was named or the environment variable is set: keys are there to
    /// be loaded (which may still fail).
    pub fn given(&self) -> bool {
        self.keys_file.is_some() || std::env::var_os(self.env_var()).is_some()
    }

    /// Where the keys come from, for messages.
    pub fn origin(&self) -> String {
        match &self.keys_file {
            Some(path) if withhold_path(path) => "the key file given".to_string(),
            Some(path) => format!("key file {}", path.display()),
            None if withhold_env_name(self.env_var()) => {
                "the environment variable given".to_string()
            }
            None => format!("environment variable {}", self.env_var()),
        }
    }

    /// Loads the key list, primary first. Errors name the variable or file, never a key.
    pub fn load(&self) -> Result<Vec<SecretKey>, Failure> {
        match &self.keys_file {
            Some(path) => {
                warn_if_exposed(path);
                SecretKey::list_from_file(path).map_err(|e| self.failure(&e))
            }
            None => SecretKey::list_from_env(self.env_var()).map_err(|e| self.failure(&e)),
        }
    }

    /// A failure for a key error, adding what to do about it.
    pub fn failure(&self, error: &KeyError) -> Failure {
        let code = code_for_key(error);
        let message = match (&self.keys_file, error.kind()) {
            (Some(path), _) if withhold_path(path) => {
                "cannot read the key file: --keys-file takes a path, and the one given may hold \
                 a key (not shown). Put keys in a file or an environment variable, never on the \
                 command line"
                    .to_string()
            }
            (None, _) if withhold_env_name(self.env_var()) => {
                "--keys-env takes the name of an environment variable, and the text given is no \
                 variable name and may hold a key (not shown). Pass the variable's name, never \
                 the key itself"
                    .to_string()
            }
            (None, KeyErrorKind::Missing) => format!(
                "{error}: set it to the keys (comma-separated, primary first; \
                 `itsclassified keygen` makes one) or pass --keys-file PATH"
            ),
            (_, KeyErrorKind::Duplicate) => format!(
                "{}: two keys have the same key id (the same key is listed twice)",
                self.origin()
            ),
            _ => error.to_string(),
        };
        Failure::new(code, message)
    }
}

/// Warns on standard error when group or others have any access to the key file.
#[cfg(unix)]
fn warn_if_exposed(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    let Ok(meta) = std::fs::metadata(path) else {
        // Reading it will fail and say why.
        return;
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        let message = if withhold_path(path) {
            format!(
                "itsclassified: warning: the key file given (its path not shown: it may hold a \
                 key) is accessible by group or others (mode {mode:03o}); make it private with \
                 chmod 600"
            )
        } else {
            format!(
                "itsclassified: warning: key file {} is accessible by group or others (mode {mode:03o}); \
                 make it private: chmod 600 {}",
                path.display(),
                path.display()
            )
        };
        eprintln_safe(&one_line(&message));
    }
}

/// Permissions are not checked where they are not Unix modes.
#[cfg(not(unix))]
fn warn_if_exposed(_path: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_passed_as_a_name_is_not_echoed() {
        let key = SecretKey::from_bytes(&[9; 32]).unwrap();
        let text = format!("NAME={},", key.to_base64().as_str());
        let args = KeyArgs {
            keys_env: Some(text.clone()),
            keys_file: None,
        };
        let failure = args.failure(&SecretKey::from_env(&text).unwrap_err());
        assert!(!failure.message.contains(&text), "{}", failure.message);
        assert!(!args.origin().contains(&text));
        let args = KeyArgs {
            keys_env: None,
            keys_file: Some(PathBuf::from(&text)),
        };
        let failure = args.failure(&SecretKey::from_file(&text).unwrap_err());
        assert!(!failure.message.contains(&text), "{}", failure.message);
        assert!(!args.origin().contains(&text));
    }
}
