//! What an engine instance may read on the local file system: the files
//! named to it and the directories allowed outright, nothing else.
//!
//! WASI opens directories, not files. To expose one file alone, the host
//! hard-links it into a private directory of its own and opens that at the
//! path of the file's real directory: inside, the file keeps its own path
//! and its siblings do not exist. Where a hard link cannot be made (another
//! file system, say), the file's directory is opened instead, with a note.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// The directories to open for an instance, each at a path the engine sees.
#[derive(Debug, Default)]
pub struct FileAccess {
    /// (directory on the host, the path the engine sees it at).
    preopens: Vec<(PathBuf, String)>,
    /// The private directory of hard links, removed with this value.
    links: Option<PathBuf>,
}

impl FileAccess {
    /// Access to exactly `files` (absolute paths; missing ones read as
    /// missing) and to the whole of each of `allowed_directories`.
    pub fn new(files: &[PathBuf], allowed_directories: &[PathBuf]) -> Result<Self> {
        let mut access = Self::default();
        for directory in allowed_directories {
            let directory = std::fs::canonicalize(directory)
                .with_context(|| format!("--allow-dir {}", directory.display()))?;
            anyhow::ensure!(
                directory.is_dir(),
                "{} is not a directory",
                directory.display()
            );
            access.open(directory.clone(), &directory)?;
        }
        let allowed = access.preopens.clone();
        for file in files {
            let covered = allowed.iter().any(|(host, _)| file.starts_with(host));
            let parent = file.parent().filter(|parent| parent.is_dir());
            if let (false, Some(parent)) = (covered, parent) {
                access.link(file, parent)?;
            }
        }
        Ok(access)
    }

    /// Access to the whole of each of `directories`, each at its own path.
    pub fn directories(directories: &[PathBuf]) -> Result<Self> {
        let mut access = Self::default();
        for directory in directories {
            access.open(directory.clone(), directory)?;
        }
        Ok(access)
    }

    /// The directories to open: (on the host, as the engine sees it).
    pub fn preopens(&self) -> &[(PathBuf, String)] {
        &self.preopens
    }

    fn open(&mut self, host: PathBuf, guest: &Path) -> Result<()> {
        let guest = guest
            .to_str()
            .with_context(|| format!("{} is not valid UTF-8", guest.display()))?;
        self.preopens.push((host, guest.to_owned()));
        Ok(())
    }

    /// Exposes `file` alone, at its own path, through a hard link in a
    /// private directory standing for `parent`.
    fn link(&mut self, file: &Path, parent: &Path) -> Result<()> {
        let existing = self
            .preopens
            .iter()
            .position(|(_, guest)| Path::new(guest) == parent);
        let standing_for = match existing {
            Some(index) => self.preopens[index].0.clone(),
            None => {
                let links = self.links_directory()?;
                let directory = links.join(self.preopens.len().to_string());
                std::fs::create_dir(&directory)
                    .with_context(|| format!("cannot create {}", directory.display()))?;
                self.open(directory.clone(), parent)?;
                directory
            }
        };
        let is_link_directory = |links: &Path| standing_for.starts_with(links);
        if !self.links.as_deref().is_some_and(is_link_directory) {
            return Ok(()); // the whole directory is open already
        }
        let (Some(name), true) = (file.file_name(), file.exists()) else {
            return Ok(()); // a missing file stays missing
        };
        if let Err(error) = std::fs::hard_link(file, standing_for.join(name)) {
            eprintln!(
                "quiver: note: cannot expose {} alone ({error}); the engine may read all of {}",
                file.display(),
                parent.display()
            );
            let entry = self
                .preopens
                .iter_mut()
                .find(|(_, guest)| Path::new(guest) == parent)
                .context("the link directory was not opened")?;
            entry.0 = parent.to_path_buf();
        }
        Ok(())
    }

    /// The private directory of links, made on first use (owner only).
    fn links_directory(&mut self) -> Result<PathBuf> {
        if let Some(links) = &self.links {
            return Ok(links.clone());
        }
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.subsec_nanos());
        let links = std::env::temp_dir().join(format!("quiver-{}-{nanos}", std::process::id()));
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(&links)
            .with_context(|| format!("cannot create {}", links.display()))?;
        self.links = Some(links.clone());
        Ok(links)
    }
}

impl Drop for FileAccess {
    fn drop(&mut self) {
        if let Some(links) = &self.links {
            // Removing links never touches the files they point to.
            let _ = std::fs::remove_dir_all(links);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_named_file_is_exposed_alone_at_its_own_path() {
        let root = std::env::temp_dir().join(format!("quiver-access-test-{}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        let (named, sibling) = (root.join("named.parquet"), root.join("sibling.parquet"));
        std::fs::write(&named, b"named").unwrap();
        std::fs::write(&sibling, b"sibling").unwrap();
        let access = FileAccess::new(std::slice::from_ref(&named), &[]).unwrap();
        let [(host, guest)] = access.preopens() else {
            panic!("{:?}", access.preopens());
        };
        assert_eq!(Path::new(guest), root);
        assert_eq!(std::fs::read(host.join("named.parquet")).unwrap(), b"named");
        assert!(!host.join("sibling.parquet").exists());
        let links = host.parent().unwrap().to_path_buf();
        drop(access);
        assert!(!links.exists() && named.exists());
        let allowed = FileAccess::new(std::slice::from_ref(&named), std::slice::from_ref(&root));
        let allowed = allowed.unwrap();
        assert_eq!(
            allowed.preopens(),
            [(root.clone(), root.to_str().unwrap().to_owned())]
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}
