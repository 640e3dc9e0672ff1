//! Export off the task's path, with a bounded buffer whose overflow is counted.
//!
//! The SDK's [`BatchSpanProcessor`] already exports from its own thread through a bounded
//! channel, but it only logs the spans it drops. [`CountingBatchProcessor`] puts a gate in front
//! of it that admits at most `max_queue_size` spans not yet handed to the exporter, so the SDK's
//! channel never overflows and every span turned away is counted here; [`CountingExporter`]
//! releases the gate when a batch leaves the buffer and counts the spans of failed exports.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Span, SpanData, SpanExporter, SpanProcessor,
};

/// Spans lost on the way out, and spans delivered.
#[derive(Debug, Default)]
pub struct ExportCounters {
    /// Spans turned away because the buffer was full.
    dropped_buffer_full: AtomicU64,
    /// Spans of batches the exporter failed to deliver (collector down, refused, timed out).
    dropped_export_failed: AtomicU64,
    exported: AtomicU64,
    /// Spans admitted and not yet handed to the exporter.
    buffered: AtomicUsize,
    /// The buffer's size; 0 until a processor owns these counters.
    capacity: AtomicUsize,
}

impl ExportCounters {
    /// Every span lost: turned away by a full buffer or in a failed export.
    pub fn dropped(&self) -> u64 {
        self.dropped_buffer_full.load(Ordering::Relaxed)
            + self.dropped_export_failed.load(Ordering::Relaxed)
    }

    pub fn dropped_buffer_full(&self) -> u64 {
        self.dropped_buffer_full.load(Ordering::Relaxed)
    }

    pub fn dropped_export_failed(&self) -> u64 {
        self.dropped_export_failed.load(Ordering::Relaxed)
    }

    /// Spans the exporter reported as delivered.
    pub fn exported(&self) -> u64 {
        self.exported.load(Ordering::Relaxed)
    }

    /// True while the buffer is full: spans made now would be dropped, so the tracker does not
    /// make them (a collector that is down then costs tasks less, not more).
    pub fn is_full(&self) -> bool {
        let capacity = self.capacity.load(Ordering::Relaxed);
        capacity > 0 && self.buffered.load(Ordering::Relaxed) >= capacity
    }

    /// Counts spans the tracker did not make because the buffer was full.
    pub(crate) fn count_skipped(&self, spans: u64) {
        self.dropped_buffer_full.fetch_add(spans, Ordering::Relaxed);
    }

    /// Admits a span when fewer than `capacity` are buffered.
    fn try_admit(&self, capacity: usize) -> bool {
        let admitted = self
            .buffered
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < capacity).then_some(n + 1)
            })
            .is_ok();
        if !admitted {
            self.dropped_buffer_full.fetch_add(1, Ordering::Relaxed);
        }
        admitted
    }

    fn release(&self, spans: usize) {
        // Saturating: spans the SDK refused after shutdown were admitted but never exported.
        let _ = self
            .buffered
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                Some(n.saturating_sub(spans))
            });
    }
}

/// Wraps an exporter to release the buffer gate and count delivered and failed spans.
#[derive(Debug)]
pub struct CountingExporter<E> {
    inner: E,
    counters: Arc<ExportCounters>,
}

impl<E: SpanExporter> SpanExporter for CountingExporter<E> {
    fn export(
        &self,
        batch: Vec<SpanData>,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        let spans = batch.len();
        self.counters.release(spans);
        let export = self.inner.export(batch);
        let counters = self.counters.clone();
        async move {
            let result = export.await;
            let spans = spans as u64;
            match &result {
                Ok(()) => counters.exported.fetch_add(spans, Ordering::Relaxed),
                Err(_) => counters
                    .dropped_export_failed
                    .fetch_add(spans, Ordering::Relaxed),
            };
            result
        }
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// A batch span processor that never blocks the caller and counts what it drops.
#[derive(Debug)]
pub struct CountingBatchProcessor {
    inner: BatchSpanProcessor,
    capacity: usize,
    counters: Arc<ExportCounters>,
}

/// How the batch processor buffers and flushes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferConfig {
    /// Spans held at most before new ones are dropped (and counted).
    pub max_queue_size: usize,
    /// Largest batch per export.
    pub max_export_batch_size: usize,
    /// The longest a span waits before export: "running" must reach the collector within 1 s.
    pub flush_interval: Duration,
}

impl Default for BufferConfig {
    fn default() -> Self {
        BufferConfig {
            max_queue_size: 4096,
            max_export_batch_size: 512,
            flush_interval: Duration::from_millis(200),
        }
    }
}

impl CountingBatchProcessor {
    pub fn new<E: SpanExporter + 'static>(exporter: E, config: BufferConfig) -> Self {
        let capacity = config.max_queue_size.max(1);
        let counters = Arc::new(ExportCounters::default());
        counters.capacity.store(capacity, Ordering::Relaxed);
        let exporter = CountingExporter {
            inner: exporter,
            counters: counters.clone(),
        };
        let batch = BatchConfigBuilder::default()
            .with_max_queue_size(capacity)
            .with_max_export_batch_size(config.max_export_batch_size.clamp(1, capacity))
            .with_scheduled_delay(config.flush_interval)
            .build();
        CountingBatchProcessor {
            inner: BatchSpanProcessor::new(exporter, batch),
            capacity,
            counters,
        }
    }

    /// The counters, shared: they stay readable after the processor moved into a provider.
    pub fn counters(&self) -> Arc<ExportCounters> {
        self.counters.clone()
    }
}

impl SpanProcessor for CountingBatchProcessor {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        if self.counters.try_admit(self.capacity) {
            self.inner.on_end(span);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_admits_up_to_capacity_and_counts_the_rest() {
        let counters = ExportCounters::default();
        let admitted = (0..5).filter(|_| counters.try_admit(3)).count();
        assert_eq!(admitted, 3);
        assert_eq!(counters.dropped_buffer_full(), 2);
        counters.release(2);
        assert!(counters.try_admit(3));
        counters.release(10);
        assert_eq!(counters.buffered.load(Ordering::Relaxed), 0);
        assert!(!counters.is_full(), "no capacity set: never full");
        counters.capacity.store(1, Ordering::Relaxed);
        assert!(counters.try_admit(1));
        assert!(counters.is_full());
    }
}
