//! The wire: what `ferry_api::call` answers is what `wire.d.ts` declares,
//! member for member.
//!
//! Every call of the parity suite (`tests/parity/operations.json`) on every
//! conformance case, plus the calls below that reach answers those do not
//! (a reference, a copy plan with its instances), is checked against the
//! TypeScript type `Answers[op]` (or `CallError`): every member an answer
//! has must be declared, every member declared as required must be there,
//! and every member the declarations reach must turn up in some answer. So
//! a member renamed, added or dropped on one side only fails here. And
//! every member name is camelCase, but for a document's own keys.
//!
//! The TypeScript is read by a small reader of the subset `wire.d.ts` is
//! written in (interfaces with `extends`, type aliases, object literals,
//! unions, arrays, string literals, `Record<string, T>`, `T["member"]`);
//! anything else is an error here, not a silent pass.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

// --- the TypeScript subset ----------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Str(String),
    Punct(char),
}

fn tokenize(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '/' && chars.get(i + 1) == Some(&'/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && chars.get(i + 1) == Some(&'*') {
            i += 2;
            while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                i += 1;
            }
            i += 2;
        } else if c == '"' {
            let start = i + 1;
            i = start;
            while i < chars.len() && chars[i] != '"' {
                assert_ne!(chars[i], '\\', "wire.d.ts: escapes in strings are not read");
                i += 1;
            }
            tokens.push(Token::Str(chars[start..i].iter().collect()));
            i += 1;
        } else if c.is_alphanumeric() || c == '_' || c == '$' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
            {
                i += 1;
            }
            tokens.push(Token::Ident(chars[start..i].iter().collect()));
        } else if "{}()[]<>:;,?|=".contains(c) {
            tokens.push(Token::Punct(c));
            i += 1;
        } else {
            panic!("wire.d.ts: unexpected character {c:?}");
        }
    }
    tokens
}

#[derive(Debug, Clone)]
enum Ty {
    String,
    Number,
    Boolean,
    Null,
    Literal(String),
    Array(Box<Ty>),
    Union(Vec<Ty>),
    Object(Vec<Field>),
    Record(Box<Ty>),
    Named(String),
    Member(Box<Ty>, String),
}

#[derive(Debug, Clone)]
struct Field {
    name: String,
    optional: bool,
    ty: Ty,
    /// Where it is declared (`ImagePlan.conversion.preferred`), for coverage.
    label: String,
}

#[derive(Debug)]
struct Interface {
    bases: Vec<String>,
    fields: Vec<Field>,
}

#[derive(Debug, Default)]
struct Declarations {
    interfaces: BTreeMap<String, Interface>,
    aliases: BTreeMap<String, Ty>,
}

struct Reader {
    tokens: Vec<Token>,
    at: usize,
}

impl Reader {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Token {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t.unwrap_or_else(|| panic!("wire.d.ts: unexpected end"))
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(&Token::Punct(c)) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char) {
        let t = self.next();
        assert_eq!(
            t,
            Token::Punct(c),
            "wire.d.ts: expected {c:?} at token {}",
            self.at
        );
    }

    fn ident(&mut self) -> String {
        match self.next() {
            Token::Ident(s) => s,
            t => panic!(
                "wire.d.ts: expected a name, found {t:?} at token {}",
                self.at
            ),
        }
    }

    fn declarations(mut self) -> Declarations {
        let mut d = Declarations::default();
        while self.peek().is_some() {
            let mut word = self.ident();
            if word == "export" {
                word = self.ident();
            }
            match word.as_str() {
                "interface" => {
                    let name = self.ident();
                    let mut bases = Vec::new();
                    if self.peek() == Some(&Token::Ident("extends".into())) {
                        self.at += 1;
                        loop {
                            bases.push(self.ident());
                            if !self.eat(',') {
                                break;
                            }
                        }
                    }
                    let Ty::Object(fields) = self.object(&name) else {
                        unreachable!()
                    };
                    assert!(
                        d.interfaces
                            .insert(name.clone(), Interface { bases, fields })
                            .is_none(),
                        "wire.d.ts: {name} declared twice"
                    );
                }
                "type" => {
                    let name = self.ident();
                    self.expect('=');
                    let ty = self.ty(&name);
                    self.expect(';');
                    assert!(
                        d.aliases.insert(name.clone(), ty).is_none(),
                        "wire.d.ts: {name} declared twice"
                    );
                }
                other => panic!("wire.d.ts: cannot read a declaration starting {other:?}"),
            }
        }
        d
    }

    fn object(&mut self, label: &str) -> Ty {
        self.expect('{');
        let mut fields = Vec::new();
        while !self.eat('}') {
            let name = match self.next() {
                Token::Ident(s) | Token::Str(s) => s,
                t => panic!("wire.d.ts: expected a member name in {label}, found {t:?}"),
            };
            let optional = self.eat('?');
            self.expect(':');
            let field_label = format!("{label}.{name}");
            let ty = self.ty(&field_label);
            fields.push(Field {
                name,
                optional,
                ty,
                label: field_label,
            });
            if !self.eat(';') {
                self.eat(',');
            }
        }
        Ty::Object(fields)
    }

    fn ty(&mut self, label: &str) -> Ty {
        self.eat('|');
        let mut members = vec![self.postfix(label)];
        while self.eat('|') {
            let member_label = format!("{label}#{}", members.len());
            members.push(self.postfix(&member_label));
        }
        if members.len() == 1 {
            members.pop().unwrap()
        } else {
            Ty::Union(members)
        }
    }

    fn postfix(&mut self, label: &str) -> Ty {
        let mut ty = self.primary(label);
        while self.peek() == Some(&Token::Punct('[')) {
            self.at += 1;
            if self.eat(']') {
                ty = Ty::Array(Box::new(ty));
            } else {
                let Token::Str(member) = self.next() else {
                    panic!("wire.d.ts: expected [] or [\"member\"] in {label}")
                };
                self.expect(']');
                ty = Ty::Member(Box::new(ty), member);
            }
        }
        ty
    }

    fn primary(&mut self, label: &str) -> Ty {
        match self.peek().cloned() {
            Some(Token::Punct('{')) => self.object(label),
            Some(Token::Punct('(')) => {
                self.at += 1;
                let ty = self.ty(label);
                self.expect(')');
                ty
            }
            Some(Token::Str(s)) => {
                self.at += 1;
                Ty::Literal(s)
            }
            Some(Token::Ident(name)) => {
                self.at += 1;
                match name.as_str() {
                    "string" => Ty::String,
                    "number" => Ty::Number,
                    "boolean" => Ty::Boolean,
                    "null" => Ty::Null,
                    "Record" => {
                        self.expect('<');
                        assert_eq!(
                            self.ident(),
                            "string",
                            "wire.d.ts: Record keys must be string"
                        );
                        self.expect(',');
                        let value = self.ty(label);
                        self.expect('>');
                        Ty::Record(Box::new(value))
                    }
                    _ => Ty::Named(name),
                }
            }
            t => panic!("wire.d.ts: cannot read a type in {label} at {t:?}"),
        }
    }
}

impl Declarations {
    fn read(path: &Path) -> Self {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        Reader {
            tokens: tokenize(&text),
            at: 0,
        }
        .declarations()
    }

    /// A named type, with an interface's bases' members before its own.
    fn resolve(&self, name: &str) -> Ty {
        if let Some(ty) = self.aliases.get(name) {
            return ty.clone();
        }
        let Some(interface) = self.interfaces.get(name) else {
            panic!("wire.d.ts: {name} is not declared")
        };
        let mut fields = Vec::new();
        for base in &interface.bases {
            let Ty::Object(base_fields) = self.resolve(base) else {
                panic!("wire.d.ts: {name} extends {base}, which is not an object type")
            };
            fields.extend(base_fields);
        }
        fields.extend(interface.fields.iter().cloned());
        Ty::Object(fields)
    }

    /// Follows names and `T["member"]` to a type that describes a value.
    fn concrete(&self, ty: &Ty) -> Ty {
        match ty {
            Ty::Named(name) => self.concrete(&self.resolve(name)),
            Ty::Member(base, member) => {
                let Ty::Object(fields) = self.concrete(base) else {
                    panic!("wire.d.ts: [{member:?}] of a type that is not an object")
                };
                let field = fields
                    .iter()
                    .find(|f| &f.name == member)
                    .unwrap_or_else(|| panic!("wire.d.ts: no member {member:?} to index"));
                self.concrete(&field.ty)
            }
            other => other.clone(),
        }
    }

    /// Checks `value` against `ty`; `covered` collects the members seen.
    fn check(
        &self,
        ty: &Ty,
        value: &Value,
        at: &str,
        covered: &mut BTreeSet<String>,
    ) -> Result<(), String> {
        let mismatch = |what: &str| Err(format!("{at}: expected {what}, found {value}"));
        match (self.concrete(ty), value) {
            (Ty::String, Value::String(_))
            | (Ty::Number, Value::Number(_))
            | (Ty::Boolean, Value::Bool(_))
            | (Ty::Null, Value::Null) => Ok(()),
            (Ty::Literal(s), Value::String(v)) if &s == v => Ok(()),
            (Ty::Array(item), Value::Array(items)) => {
                for (i, v) in items.iter().enumerate() {
                    self.check(&item, v, &format!("{at}/{i}"), covered)?;
                }
                Ok(())
            }
            (Ty::Record(item), Value::Object(map)) => {
                for (k, v) in map {
                    self.check(&item, v, &format!("{at}/{k}"), covered)?;
                }
                Ok(())
            }
            (Ty::Object(fields), Value::Object(map)) => {
                for key in map.keys() {
                    if !fields.iter().any(|f| &f.name == key) {
                        return Err(format!(
                            "{at}: member {key:?} is not declared (declared: {})",
                            fields
                                .iter()
                                .map(|f| f.name.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ));
                    }
                }
                for field in &fields {
                    match map.get(&field.name) {
                        None if field.optional => {}
                        None => {
                            return Err(format!(
                                "{at}: declared member {:?} ({}) is missing",
                                field.name, field.label
                            ));
                        }
                        Some(v) => {
                            self.check(&field.ty, v, &format!("{at}/{}", field.name), covered)?;
                            covered.insert(field.label.clone());
                        }
                    }
                }
                Ok(())
            }
            (Ty::Union(members), _) => {
                let mut errors = Vec::new();
                for member in &members {
                    let mut seen = BTreeSet::new();
                    match self.check(member, value, at, &mut seen) {
                        Ok(()) => {
                            covered.extend(seen);
                            return Ok(());
                        }
                        Err(e) => errors.push(e),
                    }
                }
                Err(format!(
                    "{at}: no member of the union fits: {}",
                    errors.join("; ")
                ))
            }
            (Ty::String, _) => mismatch("a string"),
            (Ty::Number, _) => mismatch("a number"),
            (Ty::Boolean, _) => mismatch("true or false"),
            (Ty::Null, _) => mismatch("null"),
            (Ty::Literal(s), _) => mismatch(&format!("{s:?}")),
            (Ty::Array(_), _) => mismatch("an array"),
            (Ty::Record(_) | Ty::Object(_), _) => mismatch("an object"),
            (Ty::Named(_) | Ty::Member(..), _) => unreachable!("concrete() resolves these"),
        }
    }

    /// Every member label reachable from `ty`.
    fn members(&self, ty: &Ty, seen_names: &mut BTreeSet<String>, out: &mut BTreeSet<String>) {
        match ty {
            Ty::Named(name) => {
                if seen_names.insert(name.clone()) {
                    self.members(&self.resolve(name), seen_names, out);
                }
            }
            Ty::Member(base, _) => self.members(base, seen_names, out),
            Ty::Array(item) | Ty::Record(item) => self.members(item, seen_names, out),
            Ty::Union(members) => {
                for m in members {
                    self.members(m, seen_names, out);
                }
            }
            Ty::Object(fields) => {
                for f in fields {
                    out.insert(f.label.clone());
                    self.members(&f.ty, seen_names, out);
                }
            }
            Ty::String | Ty::Number | Ty::Boolean | Ty::Null | Ty::Literal(_) => {}
        }
    }
}

// --- the answers ----------------------------------------------------------------

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn declarations() -> Declarations {
    Declarations::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("wire.d.ts"))
}

/// The conformance cases' documents (`tests/conformance/**/NAME.json`
/// beside `NAME.expected.json`), as the parity runner reads them.
fn conformance_cases() -> Vec<(String, Vec<u8>)> {
    fn collect(dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        let entries =
            std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                collect(&path, out);
            } else if let Some(stem) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".expected.json"))
            {
                let document = path.with_file_name(format!("{stem}.json"));
                let bytes = std::fs::read(&document)
                    .unwrap_or_else(|e| panic!("cannot read {}: {e}", document.display()));
                out.push((document.display().to_string(), bytes));
            }
        }
    }
    let mut cases = Vec::new();
    collect(&repository().join("tests/conformance"), &mut cases);
    assert!(
        cases.len() >= 200,
        "found only {} conformance cases",
        cases.len()
    );
    cases.sort();
    cases
}

/// The parity suite's calls: `(op, args)`.
fn parity_calls() -> Vec<(String, String)> {
    let path = repository().join("tests/parity/operations.json");
    let doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    doc["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["op"].as_str().unwrap().to_string(),
                c["args"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn fixture(name: &str) -> String {
    let path = repository().join("core/tests/fixtures/plan").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// `planCopy` arguments with `instances`, digest → text.
fn with_instances(options: &str, instances: &[&str]) -> String {
    let members: Vec<String> = instances
        .iter()
        .map(|text| {
            format!(
                "{}:{}",
                serde_json::to_string(ferry_core::Digest::sha256_of(text.as_bytes()).as_str())
                    .unwrap(),
                serde_json::to_string(text).unwrap()
            )
        })
        .collect();
    format!(
        r#"{{"options":{options},"instances":{{{}}}}}"#,
        members.join(",")
    )
}

/// Calls the parity cases do not make: references, archive formats and
/// tar members, and copies planned
/// with their instances (a list, a nested list, a chosen instance).
fn further_calls() -> Vec<(String, Vec<u8>, String)> {
    let mut calls = Vec::new();
    for (text, syntax) in [
        ("busybox", ""),
        ("localhost:5000/team/app:1.0", ""),
        (
            "busybox@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            r#"{"syntax":"normalized"}"#,
        ),
        ("busybox:musl", r#"{"syntax":"docker-archive"}"#),
    ] {
        calls.push((
            "parseReference".into(),
            text.as_bytes().to_vec(),
            syntax.into(),
        ));
    }
    let tar = std::fs::read(repository().join("core/tests/fixtures/tar/well-formed.tar")).unwrap();
    for head in [&tar[..], &[0x1f, 0x8b, 8, 0][..], b"{}"] {
        calls.push(("detectArchiveFormat".into(), head.to_vec(), String::new()));
    }
    calls.push((
        "tarFiles".into(),
        br#"[{"name":"./","typeflag":53},{"name":"a","typeflag":48},{"name":"b","typeflag":50,"linkname":"a"}]"#.to_vec(),
        String::new(),
    ));
    calls.push((
        "layerEntries".into(),
        br#"["etc/.wh.passwd","usr/.wh..wh..opq",".wh..wh.plnk/1","bin","../x"]"#.to_vec(),
        String::new(),
    ));
    let images = [
        fixture("amd64.json"),
        fixture("arm64.json"),
        fixture("arm-v7.json"),
    ];
    let child = fixture("nested-child.json");
    let top = fixture("nested-index.json");
    let mut all: Vec<&str> = vec![&child];
    all.extend(images.iter().map(String::as_str));
    for options in [
        r#"{"destination":{"kind":"oci"},"selection":"all"}"#,
        r#"{"destination":{"kind":"docker"},"selection":"all","stripUnselected":true}"#,
        r#"{"destination":{"kind":"docker-archive"},"selection":"system","platform":"linux/amd64"}"#,
    ] {
        for given in [&all[..1], &all[..]] {
            calls.push((
                "planCopy".into(),
                top.clone().into_bytes(),
                with_instances(options, given),
            ));
        }
    }
    // Compression twins: images with `twin`, summaries with twin roles.
    let images: Vec<&str> = images.iter().map(String::as_str).collect();
    calls.push((
        "planCopy".into(),
        fixture("index.json").into_bytes(),
        with_instances(
            r#"{"destination":{"kind":"oci"},"selection":"all","addCompression":["zstd"]}"#,
            &images,
        ),
    ));
    calls
}

/// The answers, as `(what was called, answer)`.
fn answers() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let calls = parity_calls();
    for (case, bytes) in conformance_cases() {
        for (op, args) in &calls {
            let text = ferry_api::call(op, &bytes, args);
            out.push((format!("{op} {args} on {case}"), parse(&text)));
        }
    }
    for (op, bytes, args) in further_calls() {
        let text = ferry_api::call(&op, &bytes, &args);
        out.push((
            format!("{op} {args} on {}", String::from_utf8_lossy(&bytes)),
            parse(&text),
        ));
    }
    out
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("the answer is not JSON ({e}): {text}"))
}

/// `Answers[op]` for `ok`, `CallError` for `error`.
fn answer_type(call: &str, answer: &Value) -> (Ty, Value) {
    let op = call.split(' ').next().unwrap();
    let object = answer
        .as_object()
        .unwrap_or_else(|| panic!("{call}: answer {answer} is not an object"));
    match object.get("ok") {
        Some(ok) => {
            assert_eq!(object.len(), 1, "{call}: {answer}");
            (
                Ty::Member(Box::new(Ty::Named("Answers".into())), op.into()),
                ok.clone(),
            )
        }
        None => (Ty::Named("CallError".into()), answer.clone()),
    }
}

// --- the specification ----------------------------------------------------------

#[test]
fn every_answer_has_exactly_the_members_wire_d_ts_declares() {
    let d = declarations();
    let mut covered = BTreeSet::new();
    let mut failures = Vec::new();
    for (call, answer) in answers() {
        let (ty, value) = answer_type(&call, &answer);
        if let Err(e) = d.check(&ty, &value, "", &mut covered) {
            failures.push(format!("{call}:\n  {e}"));
        }
    }
    failures.truncate(5);
    assert!(
        failures.is_empty(),
        "answers that wire.d.ts does not describe:\n{}",
        failures.join("\n")
    );
}

#[test]
fn every_member_wire_d_ts_declares_turns_up_in_some_answer() {
    let d = declarations();
    let mut covered = BTreeSet::new();
    for (call, answer) in answers() {
        let (ty, value) = answer_type(&call, &answer);
        // Mismatches are the other test's to report.
        if d.check(&ty, &value, "", &mut covered).is_ok() && answer.get("ok").is_some() {
            covered.insert(format!("Answers.{}", call.split(' ').next().unwrap()));
        }
    }
    let mut declared = BTreeSet::new();
    let mut names = BTreeSet::new();
    d.members(&Ty::Named("Answers".into()), &mut names, &mut declared);
    d.members(&Ty::Named("CallError".into()), &mut names, &mut declared);
    let never: Vec<&String> = declared.difference(&covered).collect();
    assert!(
        never.is_empty(),
        "members wire.d.ts declares that no answer has (renamed on one side? or a case is missing): {never:?}"
    );
}

#[test]
fn answers_declares_one_type_per_operation() {
    let d = declarations();
    let Ty::Object(fields) = d.resolve("Answers") else {
        panic!("Answers is not an object type")
    };
    let declared: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(declared, ferry_api::OPERATIONS);
}

/// The wasm bindings' functions return `Answers[op]` by name.
#[test]
fn each_binding_returns_the_declared_answer() {
    let d = declarations();
    let Ty::Object(fields) = d.resolve("Answers") else {
        panic!("Answers is not an object type")
    };
    let bindings = std::fs::read_to_string(repository().join("wasm/src/lib.rs")).unwrap();
    for field in fields {
        let name = match &field.ty {
            Ty::Named(name) => name.clone(),
            Ty::String => "string".into(),
            other => panic!(
                "Answers.{}: {other:?} is neither a name nor string",
                field.name
            ),
        };
        let declaration = format!(
            "js_name = {}, unchecked_return_type = \"{name}\"",
            field.name
        );
        assert!(
            bindings.contains(&declaration),
            "wasm/src/lib.rs lacks `{declaration}`"
        );
    }
}

#[test]
fn every_member_name_in_an_answer_is_camel_case() {
    /// A document's own keys, repeated as they are written.
    const DOCUMENT_KEYS: [&str; 2] = ["os.version", "os.features"];
    fn walk(value: &Value, at: &str, bad: &mut BTreeSet<String>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    let camel = k.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                        && k.chars().all(|c| c.is_ascii_alphanumeric());
                    if !camel && !DOCUMENT_KEYS.contains(&k.as_str()) {
                        bad.insert(format!("{at}/{k}"));
                    }
                    // Annotations are the document's: any key goes.
                    if k != "annotations" {
                        walk(v, &format!("{at}/{k}"), bad);
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, &format!("{at}/*"), bad)),
            _ => {}
        }
    }
    let mut bad = BTreeSet::new();
    for (call, answer) in answers() {
        walk(&answer, call.split(' ').next().unwrap(), &mut bad);
    }
    assert!(
        bad.is_empty(),
        "member names that are not camelCase: {bad:?}"
    );
}
