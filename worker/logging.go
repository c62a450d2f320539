package worker

import (
	"io"
	"time"

	"github.com/rs/zerolog"
)

// NewLogger builds the logger of the log block: one JSON object per line
// on w (format "json", the default), or coloured text for people
// ("console"). An unknown or empty level is info.
func NewLogger(level, format string, w io.Writer) zerolog.Logger {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		lvl = zerolog.InfoLevel
	}
	if format == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger()
}

// Sampling of the lines an outage repeats: per kind of line, the first
// outageBurst in every outagePeriod are written, then one in outageEvery.
const (
	outageBurst  = 5
	outagePeriod = 10 * time.Second
	outageEvery  = 100
)

// outageSampler returns a fresh sampler for one kind of repetitive line.
func outageSampler() zerolog.Sampler {
	return &zerolog.BurstSampler{Burst: outageBurst, Period: outagePeriod, NextSampler: &zerolog.BasicSampler{N: outageEvery}}
}

// samplers holds one sampler per kind of line that repeats during an
// outage, so that a flood of one kind does not hide another.
type samplers struct {
	fetch   zerolog.Sampler // fetch failed, cannot bind the consumer
	publish zerolog.Sampler // publish failed, output or dead letter not stored
	cache   zerolog.Sampler // outcome cache unavailable or write failed
	retry   zerolog.Sampler // will retry (an API outage)
}

func newSamplers() samplers {
	return samplers{fetch: outageSampler(), publish: outageSampler(), cache: outageSampler(), retry: outageSampler()}
}

// sampled returns l limited by s (one of the samplers).
func sampled(l *zerolog.Logger, s zerolog.Sampler) *zerolog.Logger {
	sl := l.Sample(s)
	return &sl
}
