package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// procStatusKiB reads one "Name:   123 kB" field of /proc/self/status, in
// KiB; 0 where /proc is not available.
func procStatusKiB(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		v, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0
		}
		return v
	}
	return 0
}

// mib converts KiB to MiB with one decimal.
func mib(kib int64) float64 { return math.Round(float64(kib)/1024*10) / 10 }

// resetPeakRSS makes VmHWM start again from the current resident set
// (Linux 4.0 and later); where it cannot, VmHWM stays the process's peak.
func resetPeakRSS() {
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// rssSampler records VmRSS once a second until stopped.
type rssSampler struct {
	stop    chan struct{}
	done    sync.WaitGroup
	samples []float64
}

func startRSSSampler() *rssSampler {
	s := &rssSampler{stop: make(chan struct{})}
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				s.samples = append(s.samples, mib(procStatusKiB("VmRSS")))
			}
		}
	}()
	return s
}

// Stop ends the sampling and returns the samples.
func (s *rssSampler) Stop() []float64 {
	close(s.stop)
	s.done.Wait()
	return s.samples
}

// streamTimes reads the stored times of the messages of stream from
// sequence from on (headers only), until want messages or the stream's
// end, and passes each to fn.
func streamTimes(ctx context.Context, js jetstream.JetStream, stream string, from uint64, want int, fn func(seq uint64, stored time.Time, m jetstream.Msg) error) error {
	if want <= 0 {
		return nil
	}
	c, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   from,
		HeadersOnly:   true,
	})
	if err != nil {
		return fmt.Errorf("read %s: %w", stream, err)
	}
	for got := 0; got < want; {
		batch, err := c.Fetch(min(want-got, 1000), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return fmt.Errorf("read %s: %w", stream, err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			meta, err := m.Metadata()
			if err != nil {
				return fmt.Errorf("read %s: %w", stream, err)
			}
			if err := fn(meta.Sequence.Stream, meta.Timestamp, m); err != nil {
				return err
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("read %s: %w", stream, err)
		}
		if n == 0 {
			return fmt.Errorf("read %s: %d of %d messages from sequence %d", stream, got, want, from)
		}
		got += n
	}
	return nil
}

// latencies pairs each output with its input through the output's
// Nats-Msg-Id "<span prefix><input sequence>" and returns the differences
// of their stored times, and the latest output time.
func latencies(ctx context.Context, js jetstream.JetStream, in span, out []span) ([]time.Duration, time.Time, error) {
	stored := make(map[uint64]time.Time, in.count)
	err := streamTimes(ctx, js, in.stream, in.first, in.count, func(seq uint64, t time.Time, _ jetstream.Msg) error {
		stored[seq] = t
		return nil
	})
	if err != nil {
		return nil, time.Time{}, err
	}
	var ds []time.Duration
	var last time.Time
	for _, o := range out {
		err := streamTimes(ctx, js, o.stream, o.first, o.count, func(_ uint64, t time.Time, m jetstream.Msg) error {
			if t.After(last) {
				last = t
			}
			id := m.Headers().Get(jetstream.MsgIDHeader)
			seq, err := strconv.ParseUint(strings.TrimPrefix(id, o.prefix), 10, 64)
			if err != nil || !strings.HasPrefix(id, o.prefix) {
				return fmt.Errorf("output %q does not name an input of stream %s", id, in.stream)
			}
			if t0, ok := stored[seq]; ok {
				ds = append(ds, t.Sub(t0))
			}
			return nil
		})
		if err != nil {
			return nil, time.Time{}, err
		}
	}
	return ds, last, nil
}

// span is a run of messages of one stream: count from sequence first,
// whose Nats-Msg-Id is prefix followed by the input's sequence.
type span struct {
	stream string
	prefix string
	first  uint64
	count  int
}

// startProfile starts a CPU profile in prefix.phase.pprof; with no prefix
// it does nothing. The returned func stops it and closes the file.
func startProfile(prefix, phase string) (stop func() error, err error) {
	if prefix == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(prefix + "." + phase + ".pprof")
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		return nil
	}, nil
}

// cpuTime is the CPU time (user + system) the process has used so far; 0
// where getrusage is not available.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
