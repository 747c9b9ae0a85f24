//! The output destination, which remembers whether its reader went away
//! (`quiver scan … | head`): libraries wrap I/O errors in their own types,
//! so the broken pipe is recorded where it happens.

use std::cell::Cell;
use std::io::{ErrorKind, Result, Write};
use std::rc::Rc;

/// Standard output or a file.
pub struct Sink {
    inner: Box<dyn Write>,
    reader_gone: Rc<Cell<bool>>,
}

impl Sink {
    /// Wraps `inner`; the returned flag turns true once a write hits a broken pipe.
    pub fn new(inner: Box<dyn Write>) -> (Self, Rc<Cell<bool>>) {
        let reader_gone = Rc::new(Cell::new(false));
        (
            Self {
                inner,
                reader_gone: Rc::clone(&reader_gone),
            },
            reader_gone,
        )
    }

    fn note<T>(&self, result: Result<T>) -> Result<T> {
        if result
            .as_ref()
            .is_err_and(|error| error.kind() == ErrorKind::BrokenPipe)
        {
            self.reader_gone.set(true);
        }
        result
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> Result<usize> {
        let result = self.inner.write(buf);
        self.note(result)
    }

    fn flush(&mut self) -> Result<()> {
        let result = self.inner.flush();
        self.note(result)
    }
}
