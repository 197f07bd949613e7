package compliance

import (
	"context"
	"sync/atomic"
)

// RunRetention enforces the retention periods once (R-SEC-2): every rule of
// every registered kind of personal data (kernel.PersonalData.Retain), each
// bounded per pass; the next pass carries on.
func (s *Service) RunRetention(ctx context.Context) error {
	now := s.Now()
	for _, d := range s.Personal.All() {
		for _, r := range d.Retain {
			n, err := r.Run(ctx, now)
			if err != nil {
				return s.Internal(ctx, "retention "+r.Metric, err)
			}
			s.retentionCounter(r.Metric).Add(n)
		}
	}
	return nil
}

// retentionCounter is the counter of one retention rule's metric.
func (s *Service) retentionCounter(metric string) *atomic.Int64 {
	s.retentionMu.Lock()
	defer s.retentionMu.Unlock()
	c := s.retention[metric]
	if c == nil {
		c = new(atomic.Int64)
		s.retention[metric] = c
	}
	return c
}

// RetentionCounts reports what retention removed since start, per rule;
// every registered rule appears, zero included.
func (s *Service) RetentionCounts() map[string]int64 {
	out := map[string]int64{}
	for _, d := range s.Personal.All() {
		for _, r := range d.Retain {
			out[r.Metric] = s.retentionCounter(r.Metric).Load()
		}
	}
	return out
}
