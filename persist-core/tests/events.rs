//! The `tracing` events persist emits (target `persist`): a computation and a
//! wait at `info`, each save and load at `debug`, with the fields the
//! contract names.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use persist_core::{Persistence, Store};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

#[derive(Persistence)]
#[persist(name = "traced")]
struct Traced {
    #[key]
    #[filename]
    n: u32,
    value: u64,
}

/// One event as seen: level, target, message and the other fields by name.
#[derive(Debug, Clone)]
struct Seen {
    level: Level,
    target: String,
    message: String,
    fields: Vec<(String, String)>,
}

impl Seen {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A subscriber that keeps every event (tracing-subscriber is not needed to
/// look at a few events).
#[derive(Clone, Default)]
struct Collect(Arc<Mutex<Vec<Seen>>>);

struct Fields<'a>(&'a mut Seen);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let text = format!("{value:?}");
        if field.name() == "message" {
            self.0.message = text;
        } else {
            self.0.fields.push((field.name().to_owned(), text));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.record_debug(field, &format_args!("{value}"));
    }
}

impl Subscriber for Collect {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut seen = Seen {
            level: *event.metadata().level(),
            target: event.metadata().target().to_owned(),
            message: String::new(),
            fields: Vec::new(),
        };
        event.record(&mut Fields(&mut seen));
        self.0.lock().unwrap().push(seen);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

impl Collect {
    fn take(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

#[test]
fn a_computation_a_save_and_a_load_are_events() {
    let collect = Collect::default();
    let store = Store::memory();
    tracing::subscriber::with_default(collect.clone(), || {
        Traced::new(3)
            .load_or_compute(&store, |t| {
                t.value = 9;
                Ok(())
            })
            .unwrap();
    });
    let events = collect.take();
    assert!(events.iter().all(|e| e.target == "persist"), "{events:?}");
    let computed = events
        .iter()
        .find(|e| e.message == "computed")
        .expect("a computed event");
    assert_eq!(computed.level, Level::INFO);
    assert_eq!(computed.field("record"), Some("traced-3"));
    let seconds: f64 = computed.field("seconds").unwrap().parse().unwrap();
    assert!((0.0..5.0).contains(&seconds));
    let saved = events.iter().find(|e| e.message == "saved").expect("saved");
    assert_eq!(saved.level, Level::DEBUG);
    assert_eq!(saved.field("record"), Some("traced-3"));
    assert!(saved.field("path").unwrap().ends_with("/meta.json"));
    assert!(saved.field("bytes").unwrap().parse::<u64>().unwrap() > 0);
    assert!(saved.field("ms").is_some());

    tracing::subscriber::with_default(collect.clone(), || {
        let again = Traced::new(3)
            .load_or_compute(&store, |_| panic!("stored: must not compute"))
            .unwrap();
        assert_eq!(again.value, 9);
    });
    let events = collect.take();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].message, "loaded");
    assert_eq!(events[0].level, Level::DEBUG);
    assert_eq!(events[0].field("record"), Some("traced-3"));
    assert!(events[0].field("bytes").unwrap().parse::<u64>().unwrap() > 0);
}

#[test]
fn a_wait_for_another_holder_is_an_event() {
    let collect = Collect::default();
    let store = Store::memory();
    std::thread::scope(|s| {
        s.spawn(|| {
            Traced::new(4).load_or_compute(&store, |t| {
                std::thread::sleep(Duration::from_millis(400));
                t.value = 16;
                Ok(())
            })
        });
        std::thread::sleep(Duration::from_millis(100));
        tracing::subscriber::with_default(collect.clone(), || {
            let got = Traced::new(4)
                .load_or_compute(&store, |_| panic!("held: must wait"))
                .unwrap();
            assert_eq!(got.value, 16);
        });
    });
    let events = collect.take();
    let wait = events
        .iter()
        .find(|e| e.message.starts_with("waiting"))
        .expect("a wait event");
    assert_eq!(wait.level, Level::INFO);
    assert_eq!(wait.target, "persist");
    assert_eq!(wait.field("record"), Some("traced-4"));
    assert_eq!(store.stats().waited, 1);
}
