//! Usage: ferry-parity-wasmtime MODULE.wasm NATIVE.jsonl OPERATIONS.json
//!
//! Reads the case names and the conformance folder from the native runner's
//! output, makes the calls of OPERATIONS.json on every case through the
//! C-ABI module (see wasm/cabi/src/lib.rs for its protocol) and prints the
//! lines the native runner prints, which must be identical.

use std::io::{BufWriter, Write as _};
use std::path::Path;

use wasmtime::{Engine, Instance, Memory, Module, Store, TypedFunc};

struct Ferry {
    store: Store<()>,
    memory: Memory,
    buffer: TypedFunc<(u32, u32), u32>,
    call: TypedFunc<(), u32>,
    answer: TypedFunc<(), u32>,
}

impl Ferry {
    fn load(path: &Path) -> wasmtime::Result<Self> {
        let engine = Engine::default();
        let module = Module::from_file(&engine, path)?;
        if let Some(import) = module.imports().next() {
            wasmtime::bail!(
                "the module imports {}.{}; it must import nothing",
                import.module(),
                import.name()
            );
        }
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[])?;
        Ok(Ferry {
            memory: instance
                .get_memory(&mut store, "memory")
                .ok_or_else(|| wasmtime::format_err!("no memory export"))?,
            buffer: instance.get_typed_func(&mut store, "ferry_buffer")?,
            call: instance.get_typed_func(&mut store, "ferry_call")?,
            answer: instance.get_typed_func(&mut store, "ferry_answer")?,
            store,
        })
    }

    fn call(&mut self, op: &str, bytes: &[u8], args: &str) -> wasmtime::Result<String> {
        for (slot, data) in [op.as_bytes(), bytes, args.as_bytes()]
            .into_iter()
            .enumerate()
        {
            let len = u32::try_from(data.len())?;
            let ptr = self.buffer.call(&mut self.store, (slot as u32, len))?;
            self.memory.write(&mut self.store, ptr as usize, data)?;
        }
        let len = self.call.call(&mut self.store, ())?;
        let ptr = self.answer.call(&mut self.store, ())?;
        let mut out = vec![0; len as usize];
        self.memory.read(&self.store, ptr as usize, &mut out)?;
        Ok(String::from_utf8(out)?)
    }
}

fn main() -> wasmtime::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [module, native, operations] = args.as_slice() else {
        wasmtime::bail!("usage: ferry-parity-wasmtime MODULE.wasm NATIVE.jsonl OPERATIONS.json");
    };
    let mut ferry = Ferry::load(Path::new(module))?;
    let ops: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(operations)?)?;
    let calls: Vec<(String, String)> = ops["calls"]
        .as_array()
        .ok_or_else(|| wasmtime::format_err!("{operations}: no calls"))?
        .iter()
        .map(|c| {
            (
                c["op"].as_str().unwrap_or_default().to_string(),
                c["args"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let native = std::fs::read_to_string(native)?;
    let mut lines = native.split('\n').filter(|l| !l.is_empty());
    let header = lines
        .next()
        .ok_or_else(|| wasmtime::format_err!("empty native output"))?;
    let header: serde_json::Value = serde_json::from_str(header)?;
    let dir = Path::new(header["conformanceDir"].as_str().unwrap_or_default());
    // The suite's own inputs, named parity/NAME.
    let own = Path::new(header["parityCasesDir"].as_str().unwrap_or_default());

    let mut out = BufWriter::new(std::io::stdout().lock());
    writeln!(out, "{header}")?;
    for line in lines {
        let name = serde_json::from_str::<serde_json::Value>(line)?["case"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let bytes = match name.strip_prefix("parity/") {
            Some(own_name) => std::fs::read(own.join(format!("{own_name}.json")))?,
            None => std::fs::read(dir.join(format!("{name}.json")))?,
        };
        write!(
            out,
            "{{\"case\":{},\"answers\":[",
            serde_json::to_string(&name)?
        )?;
        for (i, (op, args)) in calls.iter().enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            out.write_all(ferry.call(op, &bytes, args)?.as_bytes())?;
        }
        out.write_all(b"]}\n")?;
    }
    out.flush()?;
    Ok(())
}
