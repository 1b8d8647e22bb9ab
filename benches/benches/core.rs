//! ferry-core micro-benchmarks: digest throughput, and parse + digest +
//! choose and conversion on lists of 10, 100 and 1000 entries.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ferry_benches::{docker_list, oci_index};
use ferry_core::choose::{ChooseOptions, choose_instance};
use ferry_core::list::{ConvertOptions, List, ListKind};
use ferry_core::{Digest, Platform};
use std::hint::black_box;

fn digest_throughput(c: &mut Criterion) {
    let mut group = c.benchmark_group("digest");
    for size in [4 * 1024, 1024 * 1024] {
        let data: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("sha256", size), &data, |b, data| {
            b.iter(|| Digest::sha256_of(black_box(data)))
        });
    }
    group.finish();
}

fn list_operations(c: &mut Criterion) {
    let wanted = Platform::new("linux", "riscv64", "");
    let options = ChooseOptions::default();
    let mut group = c.benchmark_group("list");
    for entries in [10, 100, 1000] {
        let bytes = oci_index(entries);
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_with_input(BenchmarkId::new("parse", entries), &bytes, |b, bytes| {
            b.iter(|| List::parse(black_box(bytes)).unwrap())
        });
        let list = List::parse(&bytes).unwrap();
        group.bench_with_input(BenchmarkId::new("choose", entries), &list, |b, list| {
            b.iter(|| choose_instance(black_box(list), &wanted, &options).unwrap())
        });
        group.bench_with_input(
            BenchmarkId::new("parse+digest+choose", entries),
            &bytes,
            |b, bytes| {
                b.iter(|| {
                    let list = List::parse(black_box(bytes)).unwrap();
                    let digest = ferry_core::manifest::digest(bytes).unwrap();
                    (
                        digest,
                        choose_instance(&list, &wanted, &options).unwrap().index,
                    )
                })
            },
        );
    }
    group.finish();
}

fn conversion(c: &mut Criterion) {
    let options = ConvertOptions::default();
    let mut group = c.benchmark_group("convert");
    for entries in [10, 100, 1000] {
        let index = List::parse(&oci_index(entries)).unwrap();
        group.throughput(Throughput::Bytes(index.serialize().len() as u64));
        group.bench_with_input(
            BenchmarkId::new("oci-to-docker", entries),
            &index,
            |b, index| b.iter(|| index.convert_to(ListKind::DockerList, &options).unwrap()),
        );
        let docker = List::parse(&docker_list(entries)).unwrap();
        group.throughput(Throughput::Bytes(docker.serialize().len() as u64));
        group.bench_with_input(
            BenchmarkId::new("docker-to-oci", entries),
            &docker,
            |b, list| b.iter(|| list.convert_to(ListKind::OciIndex, &options).unwrap()),
        );
    }
    group.finish();
}

criterion_group!(benches, digest_throughput, list_operations, conversion);

fn json_parse(c: &mut Criterion) {
    let bytes = oci_index(1000);
    c.bench_function("json/parse/1000", |b| {
        b.iter(|| ferry_core::json::parse(black_box(&bytes)).unwrap())
    });
}

criterion_group!(internals, json_parse);
criterion_main!(benches, internals);
