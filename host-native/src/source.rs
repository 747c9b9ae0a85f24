//! What the user names on the command line: a local path, a `file://` URL or
//! an `http(s)://` URL, turned into the URL the engine opens and the local
//! file (if any) the host must expose to it.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};

/// A file to read, as the engine will see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The URL passed to the engine.
    pub url: String,
    /// The local file it names, absolute (local files only).
    pub local_path: Option<PathBuf>,
}

impl Source {
    /// Resolves `text`: URLs with a scheme are taken as they are (`file://`
    /// ones are checked and canonicalised), anything else is a local path.
    pub fn parse(text: &str) -> Result<Self> {
        if text.starts_with("http://") || text.starts_with("https://") {
            return Ok(Self {
                url: text.to_owned(),
                local_path: None,
            });
        }
        let path = if text.starts_with("file://") {
            let url = url::Url::parse(text).with_context(|| format!("invalid URL {text:?}"))?;
            url.to_file_path()
                .map_err(|()| anyhow::anyhow!("{text:?} is not a local file URL"))?
        } else if let Some((scheme, _)) = text.split_once("://") {
            bail!("unsupported URL scheme {scheme:?}: use a path, file://, http:// or https://");
        } else {
            PathBuf::from(text)
        };
        Self::local(&path)
    }

    /// A local file. A missing file still gets a URL, so the engine reports
    /// it as `not-found`.
    fn local(path: &Path) -> Result<Self> {
        let canonical = match std::fs::canonicalize(path) {
            Ok(canonical) => canonical,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let absolute = std::path::absolute(path)
                    .with_context(|| format!("cannot resolve {}", path.display()))?;
                let parent = absolute
                    .parent()
                    .and_then(|p| std::fs::canonicalize(p).ok());
                match (parent, absolute.file_name()) {
                    (Some(parent), Some(name)) => parent.join(name),
                    _ => absolute,
                }
            }
            Err(error) => {
                return Err(error).with_context(|| format!("cannot open {}", path.display()));
            }
        };
        let url = url::Url::from_file_path(&canonical)
            .map_err(|()| anyhow::anyhow!("cannot make a URL of {}", canonical.display()))?;
        Ok(Self {
            url: url.to_string(),
            local_path: Some(canonical),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_paths_become_file_urls_with_their_path() {
        let source = Source::parse("Cargo.toml").unwrap();
        assert!(source.url.starts_with("file:///") && source.url.ends_with("/Cargo.toml"));
        let path = source.local_path.unwrap();
        assert!(path.is_absolute() && path.exists());
        assert_eq!(Source::parse(&source.url).unwrap().url, source.url);
    }

    #[test]
    fn http_urls_pass_through_and_other_schemes_fail() {
        let source = Source::parse("http://127.0.0.1:1/x.parquet").unwrap();
        assert_eq!(source.local_path, None);
        assert!(Source::parse("s3://bucket/x").is_err());
        let missing = Source::parse("/definitely/not/here.parquet").unwrap();
        assert_eq!(missing.url, "file:///definitely/not/here.parquet");
    }
}
