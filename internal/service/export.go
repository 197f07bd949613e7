package service

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/keyring"
	"github.com/tkesj/tkesj/internal/store"
	"github.com/tkesj/tkesj/internal/wire"
)

// Personal-data exports (R-RGT-1): a person asks for everything tkesj holds
// about them and gets one zip, built in the background on the node that took
// the request. The zip is written straight into the blob store, sealed in
// chunks with the person's own key (so it is encrypted at rest and shredded
// with the account), under the blob key "x" + the export id. Nothing is held
// whole in memory: not the zip, not a conversation, not a media file.
//
// A job's row is touched every exportHeartbeat by the node building it. A
// pending job whose heartbeat is older than exportStale was left behind by a
// node that died (or was stopped): it is marked failed with code
// "interrupted" (at start-up, by the periodic sweep, and whenever its owner
// looks at it), so the person may ask again at once. Jobs are not re-run: the
// person decides whether they still want one.
const (
	exportHeartbeat = 10 * time.Second
	exportStale     = 45 * time.Second
	exportSweep     = time.Minute
	exportFormat    = "tkesj-export/1"
	exportPageSize  = 100
	exportListLimit = 50
)

// Export is an export job as its owner sees it.
type Export struct {
	ID         string
	Status     string // pending, ready, failed
	CreatedAt  time.Time
	FinishedAt time.Time // zero while pending
	ExpiresAt  time.Time // ready only
	Size       int64     // bytes of the zip, ready only
	ErrorCode  string    // failed only
	Expired    bool      // ready, but past ExpiresAt: the file is no longer served
}

// ExportFile is a ready export to download: its description, the file name
// to offer, and a function that writes the decrypted zip (from skip, at most
// limit bytes; limit < 0 is all). Close must be called once done.
type ExportFile struct {
	Export
	Name  string
	Write func(w io.Writer, skip, limit int64) error
	Close func()
}

func exportKey(id string) string { return "x" + id }

// exportJobs is the node's share of the export work: the semaphore that
// bounds how many exports build at once, the jobs it is responsible for (whose
// heartbeat it keeps), and the context that stops them all at Close.
type exportJobs struct {
	ctx    context.Context
	cancel context.CancelFunc
	slots  chan struct{}
	wg     sync.WaitGroup

	mu     sync.Mutex
	active map[string]bool
	closed bool
}

// startExports fails the jobs a dead node left behind and starts the loop
// that keeps this node's heartbeats and purges expired archives.
func (s *Service) startExports(ctx context.Context) *exportJobs {
	jctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	j := &exportJobs{ctx: jctx, cancel: cancel, slots: make(chan struct{}, s.cfg.ExportWorkers), active: map[string]bool{}}
	s.sweepExports(ctx)
	j.wg.Add(1)
	go func() {
		defer j.wg.Done()
		s.exportLoop(j)
	}()
	return j
}

// stopExports cancels the exports under way and waits for them to record
// that they were interrupted.
func (s *Service) stopExports() {
	j := s.exports
	if j == nil {
		return
	}
	j.mu.Lock()
	j.closed = true
	j.mu.Unlock()
	j.cancel()
	j.wg.Wait()
}

func (s *Service) exportLoop(j *exportJobs) {
	tick := time.NewTicker(exportHeartbeat)
	defer tick.Stop()
	lastSweep := time.Now()
	for {
		select {
		case <-j.ctx.Done():
			return
		case <-tick.C:
		}
		j.mu.Lock()
		ids := make([]string, 0, len(j.active))
		for id := range j.active {
			ids = append(ids, id)
		}
		j.mu.Unlock()
		if len(ids) > 0 {
			now := s.now()
			err := s.db.Update(j.ctx, func(q *store.Queries) error {
				for _, id := range ids {
					if err := q.TouchExport(j.ctx, id, now); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil && j.ctx.Err() == nil {
				s.log.Warn("export heartbeat", "err", err.Error())
			}
		}
		if time.Since(lastSweep) >= exportSweep {
			lastSweep = time.Now()
			s.sweepExports(j.ctx)
		}
	}
}

// sweepExports fails stale pending jobs and deletes the archives of expired ones.
func (s *Service) sweepExports(ctx context.Context) {
	now := s.now()
	var failed int64
	err := s.db.Update(ctx, func(q *store.Queries) (err error) {
		failed, err = q.FailStaleExports(ctx, "", now.Add(-exportStale), now, "interrupted")
		return err
	})
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("export sweep", "err", err.Error())
		}
		return
	}
	if failed > 0 {
		s.log.Info("exports left pending by a stopped node marked failed", "count", failed)
	}
	expired, err := s.db.Read().ExpiredExports(ctx, now, 100)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("export sweep", "err", err.Error())
		}
		return
	}
	for _, r := range expired {
		s.purgeExport(ctx, r.ID)
	}
}

// purgeExport deletes an expired archive's blob (retention, R-SEC-2).
func (s *Service) purgeExport(ctx context.Context, id string) {
	if err := s.blobs.Delete(ctx, exportKey(id)); err != nil {
		s.log.Warn("purge export", "export", id, "err", err.Error())
		return
	}
	if err := s.db.Update(ctx, func(q *store.Queries) error { return q.MarkExportPurged(ctx, id) }); err != nil {
		s.log.Warn("purge export", "export", id, "err", err.Error())
	}
}

// exportBlobKeys lists the blob keys of a person's export archives. Account
// destruction may call it before the user row (and, by cascade, the export
// rows) goes, to delete archives that crypto-shredding has already made unreadable.
func exportBlobKeys(ctx context.Context, q *store.Queries, userID string) ([]string, error) {
	rs, err := q.Exports(ctx, userID, 10_000)
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, r := range rs {
		if r.Status == store.ExportReady && !r.Purged {
			keys = append(keys, exportKey(r.ID))
		}
	}
	return keys, nil
}

func (s *Service) exportView(r store.ExportRecord) Export {
	e := Export{ID: r.ID, Status: r.Status, CreatedAt: r.CreatedAt, FinishedAt: r.FinishedAt, ErrorCode: r.ErrorCode}
	if r.Status == store.ExportReady {
		e.ExpiresAt, e.Size = r.ExpiresAt, r.Size
		e.Expired = r.Purged || !s.now().Before(r.ExpiresAt)
	}
	return e
}

// settleExport fails a pending job whose builder stopped beating, so its
// owner sees it failed (and may ask again) without waiting for the sweep.
func (s *Service) settleExport(ctx context.Context, r store.ExportRecord) store.ExportRecord {
	now := s.now()
	if r.Status != store.ExportPending || !r.HeartbeatAt.Before(now.Add(-exportStale)) {
		return r
	}
	err := s.db.Update(ctx, func(q *store.Queries) error {
		_, err := q.FailStaleExports(ctx, r.UserID, now.Add(-exportStale), now, "interrupted")
		return err
	})
	if err != nil {
		return r
	}
	if fresh, err := s.db.Read().FindExport(ctx, r.ID); err == nil {
		return fresh
	}
	return r
}

// StartExport starts building an export of everything tkesj holds about the
// caller (R-RGT-1) and returns the pending job. One export per
// Config.ExportInterval (24 h) unless the last one failed: a request sooner
// is rate_limited with the time to wait.
func (s *Service) StartExport(ctx context.Context, a Auth) (Export, error) {
	if _, err := s.Me(ctx, a); err != nil {
		return Export{}, err
	}
	now := s.now()
	rec := store.ExportRecord{ID: newID("x"), UserID: a.UserID, Status: store.ExportPending, CreatedAt: now, HeartbeatAt: now}
	var wait time.Duration
	err := s.db.Update(ctx, func(q *store.Queries) error {
		if _, err := q.FailStaleExports(ctx, a.UserID, now.Add(-exportStale), now, "interrupted"); err != nil {
			return err
		}
		last, err := q.Exports(ctx, a.UserID, 1)
		if err != nil {
			return err
		}
		if len(last) == 1 && last[0].Status != store.ExportFailed {
			if next := last[0].CreatedAt.Add(s.cfg.ExportInterval); now.Before(next) {
				wait = next.Sub(now)
				return nil
			}
		}
		return q.CreateExport(ctx, rec)
	})
	if tkesj.ErrorCode(err) == "export_pending" {
		wait, err = s.cfg.ExportInterval, nil // another request won the race
	}
	if err != nil {
		return Export{}, s.internal(ctx, "start export", err)
	}
	if wait > 0 {
		return Export{}, exportTooSoon(wait, s.cfg.ExportInterval)
	}
	s.launchExport(rec)
	return s.exportView(rec), nil
}

func exportTooSoon(wait, interval time.Duration) error {
	secs := int(wait.Seconds() + 0.999)
	e := tkesj.Errorf(tkesj.ERateLimited, "rate_limited",
		"you can ask for one export every %s (sooner only when the last one failed); the next is possible in %s",
		humanDuration(interval), humanDuration(time.Duration(secs)*time.Second))
	e.RetryAfter = time.Duration(max(secs, 1)) * time.Second
	return e
}

func humanDuration(d time.Duration) string {
	unit := func(n int, name string) string {
		if n == 1 {
			return "1 " + name
		}
		return fmt.Sprintf("%d %ss", n, name)
	}
	if d < time.Minute {
		return unit(max(1, int((d+time.Second-1)/time.Second)), "second")
	}
	mins := int((d + time.Minute - 1) / time.Minute)
	switch h, m := mins/60, mins%60; {
	case h == 0:
		return unit(m, "minute")
	case m == 0:
		return unit(h, "hour")
	default:
		return unit(h, "hour") + " " + unit(m, "minute")
	}
}

// Export returns one of the caller's exports; another person's, or an unknown
// id, is not_found.
func (s *Service) Export(ctx context.Context, a Auth, id string) (Export, error) {
	r, err := s.db.Read().FindExport(ctx, id)
	if err != nil || r.UserID != a.UserID {
		if err != nil && tkesj.ErrorKindOf(err) != tkesj.ENotFound {
			return Export{}, s.internal(ctx, "export", err)
		}
		return Export{}, tkesj.ErrNotFound("export")
	}
	return s.exportView(s.settleExport(ctx, r)), nil
}

// Exports lists the caller's exports, newest first (the last 50).
func (s *Service) Exports(ctx context.Context, a Auth) ([]Export, error) {
	rs, err := s.db.Read().Exports(ctx, a.UserID, exportListLimit)
	if err != nil {
		return nil, s.internal(ctx, "exports", err)
	}
	out := make([]Export, 0, len(rs))
	for _, r := range rs {
		out = append(out, s.exportView(s.settleExport(ctx, r)))
	}
	return out, nil
}

// OpenExport returns a ready export of the caller's to download. Another
// person's is not_found; a pending one is export_not_ready, a failed one
// export_failed, and one past its expiry is 410 export_expired.
func (s *Service) OpenExport(ctx context.Context, a Auth, id string) (ExportFile, error) {
	e, err := s.Export(ctx, a, id)
	if err != nil {
		return ExportFile{}, err
	}
	switch {
	case e.Status == store.ExportPending:
		return ExportFile{}, tkesj.Errorf(tkesj.EConflict, "export_not_ready", "the export is still being prepared; check GET /api/v1/me/exports/%s until it is ready", id)
	case e.Status == store.ExportFailed:
		return ExportFile{}, tkesj.Errorf(tkesj.EConflict, "export_failed", "this export could not be made; ask for a new one (POST /api/v1/me/exports)")
	case e.Expired:
		if s.now().After(e.ExpiresAt) {
			s.purgeExport(ctx, id)
		}
		return ExportFile{}, tkesj.Errorf(tkesj.EGone, "export_expired", "this export's download link has expired; ask for a new one (POST /api/v1/me/exports)")
	}
	key := exportKey(id)
	rc, err := s.blobs.Get(ctx, key)
	if err != nil {
		if tkesj.ErrorKindOf(err) == tkesj.ENotFound {
			return ExportFile{}, tkesj.Errorf(tkesj.EGone, "export_expired", "this export's file is no longer stored; ask for a new one (POST /api/v1/me/exports)")
		}
		return ExportFile{}, s.internal(ctx, "open export", err)
	}
	owner := a.UserID
	return ExportFile{
		Export: e,
		Name:   "tkesj-export-" + e.CreatedAt.Format("2006-01-02") + ".zip",
		Write: func(w io.Writer, skip, limit int64) error {
			err := s.openStream(ctx, owner, key, rc, w, skip, limit)
			if errors.Is(err, keyring.ErrShredded) {
				return tkesj.ErrNotFound("export")
			}
			return err
		},
		Close: func() { rc.Close() },
	}, nil
}

// launchExport builds rec in the background on this node.
func (s *Service) launchExport(rec store.ExportRecord) {
	j := s.exports
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return // the job stays pending and is failed as stale
	}
	j.active[rec.ID] = true
	j.wg.Add(1)
	go func() {
		defer j.wg.Done()
		defer func() {
			j.mu.Lock()
			delete(j.active, rec.ID)
			j.mu.Unlock()
		}()
		s.runExport(j, rec)
	}()
}

func (s *Service) runExport(j *exportJobs, rec store.ExportRecord) {
	ctx := j.ctx
	select {
	case j.slots <- struct{}{}:
	case <-ctx.Done():
		s.finishExport(rec, 0, ctx.Err())
		return
	}
	defer func() { <-j.slots }()
	start := time.Now()
	st, err := s.buildExport(ctx, rec)
	if err == nil {
		s.log.Info("export ready", "export", rec.ID, "bytes", st.size, "messages", st.counts["messages"],
			"media", st.counts["media"], "missing", len(st.missing), "ms", time.Since(start).Milliseconds())
	}
	s.finishExport(rec, st.size, err)
}

// finishExport records the outcome; an archive nobody is waiting for any
// more (the job was failed as stale meanwhile, or the account is gone) is deleted.
func (s *Service) finishExport(rec store.ExportRecord, size int64, buildErr error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	now := s.now()
	r := store.ExportRecord{ID: rec.ID, Status: store.ExportReady, FinishedAt: now, ExpiresAt: now.Add(s.cfg.ExportTTL), Size: size}
	if buildErr != nil {
		r = store.ExportRecord{ID: rec.ID, Status: store.ExportFailed, FinishedAt: now, ErrorCode: "build_failed"}
		if errors.Is(buildErr, context.Canceled) || s.exports.ctx.Err() != nil {
			r.ErrorCode = "interrupted"
		}
		if !errors.Is(buildErr, keyring.ErrShredded) { // a destroyed account is no news
			s.log.Warn("export failed", "export", rec.ID, "err", buildErr.Error())
		}
	}
	var ok bool
	err := s.db.Update(ctx, func(q *store.Queries) (err error) {
		ok, err = q.FinishExport(ctx, r)
		return err
	})
	if err != nil {
		s.log.Warn("finish export", "export", rec.ID, "err", err.Error())
	}
	if buildErr == nil && (err != nil || !ok) {
		s.blobs.Delete(ctx, exportKey(rec.ID))
	}
}

// exportState is what the archive holds so far: the manifest in the making.
type exportState struct {
	zw      *zip.Writer
	created time.Time
	files   []exportFileEntry
	counts  map[string]int
	missing []exportMissing
	size    int64
}

type exportFileEntry struct {
	Path           string `json:"path"`
	Kind           string `json:"kind"`
	Count          int    `json:"count"`
	ConversationID string `json:"conversation_id,omitempty"`
	MediaID        string `json:"media_id,omitempty"`
	Mime           string `json:"mime,omitempty"`
	Bytes          int64  `json:"bytes,omitempty"`
}

type exportMissing struct {
	Path    string `json:"path,omitempty"`
	MediaID string `json:"media_id,omitempty"`
	Reason  string `json:"reason"`
}

// buildExport writes the archive through the sealer into the blob store and
// returns what it holds.
func (s *Service) buildExport(ctx context.Context, rec store.ExportRecord) (*exportState, error) {
	st := &exportState{created: rec.CreatedAt, counts: map[string]int{}}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := s.writeExport(ctx, Auth{UserID: rec.UserID}, st, pw)
		pw.CloseWithError(err) // nil: the sealer sees the end of the archive
		done <- err
	}()
	size, err := s.storeBlob(ctx, rec.UserID, exportKey(rec.ID), pr)
	pr.CloseWithError(errors.New("export storage stopped")) // unblocks the writer if storage stopped early
	if werr := <-done; werr != nil {
		return st, werr
	}
	if err != nil {
		return st, fmt.Errorf("store export: %w", err)
	}
	st.size = size
	return st, nil
}

// writeExport writes the whole zip to w, section by section. A part that
// cannot be read goes into manifest.missing; only an unreadable profile (the
// account is gone) or a broken archive stream fails the export.
func (s *Service) writeExport(ctx context.Context, a Auth, st *exportState, w io.Writer) error {
	bw := bufio.NewWriterSize(w, chunkSize)
	st.zw = zip.NewWriter(bw)
	st.zw.SetComment("tkesj personal data export; open index.html")
	me, err := s.Me(ctx, a)
	if err != nil {
		return fmt.Errorf("export profile: %w", err)
	}
	q := s.db.Read()
	media, err := q.MediaOf(ctx, a.UserID)
	if err != nil {
		return fmt.Errorf("export media list: %w", err)
	}
	paths := map[string]string{} // media id -> path in the archive
	for _, m := range media {
		paths[m.ID] = "media/" + m.ID + "." + extensionOf(m.Mime)
	}

	prof := map[string]any{"id": me.ID, "username": me.Username, "nickname": me.Nickname, "gender": me.Gender, "phone": me.Phone,
		"status": string(me.Status), "created_at": me.CreatedAt.Format(time.RFC3339)}
	if me.BirthDate != "" {
		prof["birth_date"] = me.BirthDate
	}
	if me.AvatarID != "" {
		prof["avatar"] = map[string]any{"media_id": me.AvatarID, "path": paths[me.AvatarID]}
	}
	if err := st.json("profile.json", "profile", 1, prof); err != nil {
		return err
	}

	if err := s.exportDevices(ctx, a, st); err != nil {
		return err
	}
	if err := s.exportContacts(ctx, a, st); err != nil {
		return err
	}
	if err := s.exportFriendRequests(ctx, a, st); err != nil {
		return err
	}
	if err := s.exportSettings(ctx, a, st); err != nil {
		return err
	}
	if cs, err := s.Consents(ctx, a); err != nil {
		st.lost("consents.json", "", "read_failed")
	} else {
		out := make([]map[string]any, 0, len(cs))
		for _, c := range cs {
			out = append(out, map[string]any{"kind": c.Kind, "subject": c.Subject, "granted": c.Granted, "purpose": c.Purpose,
				"policy_version": c.PolicyVersion, "method": c.Method, "at": c.At.Format(time.RFC3339Nano)})
		}
		st.counts["consents"] = len(out)
		if err := st.json("consents.json", "consents", len(out), map[string]any{"consents": out}); err != nil {
			return err
		}
	}
	convs, err := s.exportConversations(ctx, a, st, paths)
	if err != nil {
		return err
	}
	if err := s.exportMoments(ctx, a, st, paths); err != nil {
		return err
	}
	if err := s.exportTicketsAndSharing(ctx, a, st); err != nil {
		return err
	}
	items, err := s.exportMedia(ctx, a, st, media, me.AvatarID, paths)
	if err != nil {
		return err
	}
	if err := s.exportIndex(st, me, convs, items); err != nil {
		return err
	}
	if err := st.zw.Close(); err != nil {
		return err
	}
	return bw.Flush()
}

func (st *exportState) lost(path, mediaID, reason string) {
	st.missing = append(st.missing, exportMissing{Path: path, MediaID: mediaID, Reason: reason})
}

// create starts a file in the archive; compress is false for media that is
// compressed already.
func (st *exportState) create(path string, compress bool) (io.Writer, error) {
	h := &zip.FileHeader{Name: path, Method: zip.Deflate, Modified: st.created}
	if !compress {
		h.Method = zip.Store
	}
	return st.zw.CreateHeader(h)
}

// json writes v as an indented JSON file and lists it in the manifest.
func (st *exportState) json(path, kind string, count int, v any) error {
	f, err := st.create(path, true)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // people read these files; "<" stays "<"
	if err := enc.Encode(v); err != nil {
		return err
	}
	st.files = append(st.files, exportFileEntry{Path: path, Kind: kind, Count: count})
	return nil
}

func (s *Service) exportDevices(ctx context.Context, a Auth, st *exportState) error {
	ds, err := s.Devices(ctx, a)
	if err != nil {
		st.lost("devices.json", "", "read_failed")
		return nil
	}
	out := make([]map[string]any, 0, len(ds))
	for _, d := range ds {
		out = append(out, map[string]any{"id": d.ID, "model": d.Model, "os": d.OS, "app_version": d.AppVersion, "network": d.Network,
			"login_ip": d.LoginIP, "created_at": d.CreatedAt.Format(time.RFC3339), "last_seen_at": d.LastSeenAt.Format(time.RFC3339)})
	}
	st.counts["devices"] = len(out)
	return st.json("devices.json", "devices", len(out), map[string]any{
		"about":   "your devices and login history: when each device first signed in (created_at), when it was last used (last_seen_at) and the IP address of its latest sign-in (login_ip)",
		"devices": out,
	})
}

func profileMap(p Profile) map[string]any {
	j := map[string]any{"id": p.ID, "username": p.Username, "nickname": p.Nickname, "gender": p.Gender}
	if p.Remark != "" {
		j["remark"] = p.Remark
	}
	return j
}

func (s *Service) exportContacts(ctx context.Context, a Auth, st *exportState) error {
	if cs, err := s.Contacts(ctx, a); err != nil {
		st.lost("contacts.json", "", "read_failed")
	} else {
		out := make([]map[string]any, 0, len(cs))
		for _, c := range cs {
			out = append(out, profileMap(c))
		}
		st.counts["contacts"] = len(out)
		if err := st.json("contacts.json", "contacts", len(out), map[string]any{"contacts": out}); err != nil {
			return err
		}
	}
	bs, err := s.Blocked(ctx, a)
	if err != nil {
		st.lost("blocked.json", "", "read_failed")
		return nil
	}
	out := make([]map[string]any, 0, len(bs))
	for _, b := range bs {
		out = append(out, profileMap(b))
	}
	st.counts["blocked"] = len(out)
	return st.json("blocked.json", "blocked", len(out), map[string]any{"blocked": out})
}

// exportFriendRequests lists every stored request to or from the person,
// including those whose other side has since destroyed their account.
func (s *Service) exportFriendRequests(ctx context.Context, a Auth, st *exportState) error {
	q := s.db.Read()
	recs, err := q.FriendRequests(ctx, a.UserID, 100_000)
	if err != nil {
		st.lost("friend_requests.json", "", "read_failed")
		return nil
	}
	now := s.now()
	out := make([]map[string]any, 0, len(recs))
	for _, r := range recs {
		status := r.Status
		if status == "pending" && !now.Before(r.ExpiresAt) {
			status = "expired"
		}
		j := map[string]any{"id": r.ID, "from": r.FromID, "to": r.ToID, "status": status,
			"created_at": r.CreatedAt.Format(time.RFC3339), "expires_at": r.ExpiresAt.Format(time.RFC3339)}
		var greeting string
		if err := s.open(ctx, r.FromID, "friend_requests/greeting", r.Greeting, &greeting); err == nil && greeting != "" {
			j["greeting"] = greeting
		}
		other := r.ToID
		if other == a.UserID {
			other = r.FromID
		}
		if p, err := s.profile(ctx, q, other); err == nil {
			j["other_user"] = profileMap(p)
		} else {
			j["other_user"] = map[string]any{"id": other, "deleted": true}
		}
		out = append(out, j)
	}
	st.counts["friend_requests"] = len(out)
	return st.json("friend_requests.json", "friend_requests", len(out), map[string]any{"friend_requests": out})
}

func (s *Service) exportSettings(ctx context.Context, a Auth, st *exportState) error {
	set, err := s.Settings(ctx, a)
	if err != nil {
		st.lost("settings.json", "", "read_failed")
		return nil
	}
	perms, err := s.Permissions(ctx, a)
	if err != nil {
		perms = nil
		st.lost("settings.json#permissions", "", "read_failed")
	}
	return st.json("settings.json", "settings", 1, map[string]any{
		"privacy": map[string]any{"found_by_phone": set.FoundByPhone, "found_by_username": set.FoundByUsername,
			"friend_requests_need_approval": set.FriendRequestsNeedApproval, "moments_range": set.MomentsRange},
		"notifications": map[string]any{"push_enabled": set.PushEnabled, "push_show_text": set.PushShowText},
		"permissions":   perms,
	})
}

// exportConv is a conversation as the index lists it.
type exportConv struct {
	ID, Kind, Title, Path string
	Count                 int
}

// exportConversations writes each conversation's messages to
// messages/<id>.json, page by page through Messages (so exactly what the
// person can still see: after they joined, minus what they deleted for
// themselves), then conversations.json with members' public profiles.
func (s *Service) exportConversations(ctx context.Context, a Auth, st *exportState, paths map[string]string) ([]exportConv, error) {
	cs, err := s.Conversations(ctx, a)
	if err != nil {
		st.lost("conversations.json", "", "read_failed")
		return nil, nil
	}
	var index []exportConv
	out := make([]map[string]any, 0, len(cs))
	for _, c := range cs {
		path := "messages/" + c.ID + ".json"
		j := map[string]any{"id": c.ID, "kind": c.Kind, "role": c.Role, "muted": c.Muted, "messages_path": path}
		title := c.Name
		if c.Kind == "group" {
			j["name"], j["announcement"] = c.Name, c.Announcement
			st.counts["groups"]++
		} else if c.Peer != nil {
			if c.Peer.Username == "" {
				j["peer"] = map[string]any{"id": c.Peer.ID, "deleted": true}
				title = "(deleted account)"
			} else {
				j["peer"] = profileMap(*c.Peer)
				title = c.Peer.Nickname
			}
		}
		if full, err := s.Conversation(ctx, a, c.ID); err == nil {
			ms := make([]map[string]any, 0, len(full.Members))
			for _, m := range full.Members {
				mj := profileMap(m.Profile)
				mj["role"] = m.Role
				ms = append(ms, mj)
			}
			j["members"] = ms
		} else if tkesj.ErrorKindOf(err) != tkesj.ENotFound {
			st.lost("conversations.json#"+c.ID+"/members", "", "read_failed")
		}
		n, err := s.exportMessages(ctx, a, st, c, path, paths)
		if err != nil {
			return nil, err
		}
		j["message_count"] = n
		st.counts["messages"] += n
		out = append(out, j)
		index = append(index, exportConv{ID: c.ID, Kind: c.Kind, Title: title, Path: path, Count: n})
	}
	st.counts["conversations"] = len(out)
	return index, st.json("conversations.json", "conversations", len(out), map[string]any{"conversations": out})
}

// exportMessages streams one conversation, oldest first. A page that cannot
// be read ends the file early and is listed as missing.
func (s *Service) exportMessages(ctx context.Context, a Auth, st *exportState, c Conversation, path string, paths map[string]string) (int, error) {
	f, err := st.create(path, true)
	if err != nil {
		return 0, err
	}
	head, _ := json.Marshal(map[string]any{"conversation_id": c.ID, "kind": c.Kind})
	if _, err := fmt.Fprintf(f, "%s,\n \"messages\": [", head[:len(head)-1]); err != nil {
		return 0, err
	}
	var line bytes.Buffer
	enc := json.NewEncoder(&line)
	enc.SetEscapeHTML(false)
	n := 0
	var after int64
	for {
		page, err := s.Messages(ctx, a, c.ID, after, 0, exportPageSize)
		if err != nil {
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			st.lost(path, "", "incomplete")
			break
		}
		for _, m := range page {
			j := exportedMessage{Message: MessageJSON(m)}
			if m.Media != nil {
				j.MediaPath = paths[m.Media.ID]
			}
			line.Reset()
			if n == 0 {
				line.WriteString("\n  ")
			} else {
				line.WriteString(",\n  ")
			}
			if err := enc.Encode(j); err != nil {
				return 0, err
			}
			line.Truncate(line.Len() - 1) // Encode's newline
			if _, err := f.Write(line.Bytes()); err != nil {
				return 0, err
			}
			n++
			after = m.Seq
		}
		if len(page) < exportPageSize {
			break
		}
	}
	if _, err := io.WriteString(f, "\n ]\n}\n"); err != nil {
		return 0, err
	}
	st.files = append(st.files, exportFileEntry{Path: path, Kind: "messages", Count: n, ConversationID: c.ID})
	return n, nil
}

// exportItem is a media file as the index lists it.
type exportItem struct {
	ID, Kind, Mime, Path string
	Size                 int64
	Avatar               bool
}

// exportMedia copies the person's uploads into media/. Each is read twice:
// once to check that every chunk opens (a missing blob or a chunk that fails
// to decrypt puts it in manifest.missing instead of a cut-off file in the
// zip), then into the archive. Both passes stream chunk by chunk.
func (s *Service) exportMedia(ctx context.Context, a Auth, st *exportState, media []store.MediaRecord, avatarID string, paths map[string]string) ([]exportItem, error) {
	var items []exportItem
	list := make([]map[string]any, 0, len(media))
	for _, m := range media {
		path := paths[m.ID]
		j := map[string]any{"id": m.ID, "kind": m.Kind, "mime": m.Mime, "size": m.Size, "created_at": m.CreatedAt.Format(time.RFC3339)}
		var meta map[string]any
		if json.Unmarshal([]byte(m.Meta), &meta) == nil && len(meta) > 0 {
			j["meta"] = meta
		}
		if m.ID == avatarID {
			j["avatar"] = true
		}
		reason := s.checkBlob(ctx, a.UserID, m.ID)
		if reason == "" {
			f, err := st.create(path, !strings.HasPrefix(m.Mime, "image/") && !strings.HasPrefix(m.Mime, "video/") && !strings.HasPrefix(m.Mime, "audio/"))
			if err != nil {
				return nil, err
			}
			cw := &countWriter{w: f}
			rc, err := s.blobs.Get(ctx, m.ID)
			if err == nil {
				err = s.openStream(ctx, a.UserID, m.ID, rc, cw, 0, -1)
				rc.Close()
			}
			if err != nil {
				if ctx.Err() != nil || cw.err != nil {
					return nil, errors.Join(ctx.Err(), cw.err, err)
				}
				reason = "read_failed" // it changed between the passes; what was written is cut off
			} else {
				st.files = append(st.files, exportFileEntry{Path: path, Kind: "media", Count: 1, MediaID: m.ID, Mime: m.Mime, Bytes: cw.n})
				j["path"] = path
				items = append(items, exportItem{ID: m.ID, Kind: m.Kind, Mime: m.Mime, Path: path, Size: cw.n, Avatar: m.ID == avatarID})
				st.counts["media"]++
			}
		} else if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if reason != "" {
			j["missing"] = reason
			st.lost(path, m.ID, reason)
		}
		list = append(list, j)
	}
	return items, st.json("media.json", "media_list", len(list), map[string]any{"media": list})
}

// checkBlob reads a media blob through to the end without keeping it and
// says why it cannot be exported ("" when it can).
func (s *Service) checkBlob(ctx context.Context, owner, key string) string {
	rc, err := s.blobs.Get(ctx, key)
	if err != nil {
		if tkesj.ErrorKindOf(err) == tkesj.ENotFound {
			return "blob_missing"
		}
		return "read_failed"
	}
	defer rc.Close()
	if err := s.openStream(ctx, owner, key, rc, io.Discard, 0, -1); err != nil {
		return "unreadable"
	}
	return ""
}

type countWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if err != nil {
		c.err = err
	}
	return n, err
}

// extensionOf names a file by its (sniffed) type.
func extensionOf(mime string) string {
	if ext, ok := extensions[mime]; ok {
		return ext
	}
	return "bin"
}

var extensions = map[string]string{
	"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp", "image/heic": "heic", "image/avif": "avif",
	"video/mp4": "mp4", "video/quicktime": "mov", "video/3gpp": "3gp", "video/webm": "webm", "video/ogg": "ogv",
	"audio/amr-wb": "awb", "audio/amr": "amr", "audio/wav": "wav", "audio/mpeg": "mp3", "audio/aac": "aac", "audio/flac": "flac",
	"audio/mp4": "m4a", "audio/webm": "weba", "audio/ogg": "ogg",
	"application/pdf": "pdf", "application/zip": "zip", "application/epub+zip": "epub", "text/plain": "txt",
	"application/vnd.oasis.opendocument.text":                                   "odt",
	"application/vnd.oasis.opendocument.spreadsheet":                            "ods",
	"application/vnd.oasis.opendocument.presentation":                           "odp",
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document":   "docx",
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":         "xlsx",
	"application/vnd.openxmlformats-officedocument.presentationml.presentation": "pptx",
}

// exportIndex writes manifest.json and index.html, last, when every count is known.
func (s *Service) exportIndex(st *exportState, me tkesj.User, convs []exportConv, items []exportItem) error {
	for _, k := range []string{"devices", "contacts", "blocked", "friend_requests", "consents", "conversations", "groups", "messages", "media"} {
		st.counts[k] += 0 // every count appears, zero included
	}
	st.counts["missing"] = len(st.missing)
	st.files = append(st.files, exportFileEntry{Path: "manifest.json", Kind: "manifest", Count: 1}, exportFileEntry{Path: "index.html", Kind: "index", Count: 1})
	missing := st.missing
	if missing == nil {
		missing = []exportMissing{}
	}
	manifest := map[string]any{"format": exportFormat, "user_id": me.ID, "created_at": st.created.Format(time.RFC3339),
		"files": st.files, "counts": st.counts, "missing": missing}
	if err := st.json("manifest.json", "manifest", 1, manifest); err != nil {
		return err
	}
	st.files = st.files[:len(st.files)-1] // json listed it again
	f, err := st.create("index.html", true)
	if err != nil {
		return err
	}
	type section struct {
		Title, Path string
		Count       int
	}
	sections := []section{{"Profile", "profile.json", 1}}
	for _, e := range []struct{ title, path, count string }{
		{"Devices and login history", "devices.json", "devices"}, {"Contacts (with your remarks)", "contacts.json", "contacts"},
		{"Blocked people", "blocked.json", "blocked"}, {"Friend requests", "friend_requests.json", "friend_requests"},
		{"Notification, privacy and permission settings", "settings.json", ""}, {"Consent history", "consents.json", "consents"},
		{"Conversations and groups", "conversations.json", "conversations"}, {"Moments, with their likes and comments", "moments.json", "moments"},
		{"Support tickets and complaints", "tickets.json", "tickets"}, {"What was shared with whom", "sharing.json", "sharing"},
		{"Your uploads (list)", "media.json", "media"},
		{"Manifest (machine-readable)", "manifest.json", ""},
	} {
		n := 1
		if e.count != "" {
			n = st.counts[e.count]
		}
		sections = append(sections, section{e.title, e.path, n})
	}
	return exportPage.Execute(f, map[string]any{
		"Me": me, "Created": st.created.Format("2006-01-02 15:04 MST"), "Sections": sections, "Conversations": convs,
		"Media": items, "Missing": st.missing, "Messages": st.counts["messages"],
	})
}

var exportPage = template.Must(template.New("index").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Your tkesj data</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.3em .6em;border-bottom:1px solid #eee}
td.n{text-align:right}.note{color:#666}
</style></head>
<body>
<h1>Your tkesj data</h1>
<p>This archive holds what tkesj keeps about <strong>{{.Me.Nickname}}</strong> (username {{.Me.Username}}, id {{.Me.ID}}),
as of {{.Created}}. Each section is a JSON file next to this page; <a href="manifest.json">manifest.json</a> lists every file with its count.</p>
<h2>Sections</h2>
<table><tr><th>Section</th><th>File</th><th>Entries</th></tr>
{{range .Sections}}<tr><td>{{.Title}}</td><td><a href="{{.Path}}">{{.Path}}</a></td><td class="n">{{.Count}}</td></tr>
{{end}}</table>
<h2>Messages ({{.Messages}})</h2>
<p class="note">Every message you sent or received that you can still see, oldest first, one file per conversation.</p>
<table><tr><th>Conversation</th><th>Kind</th><th>File</th><th>Messages</th></tr>
{{range .Conversations}}<tr><td>{{if .Title}}{{.Title}}{{else}}{{.ID}}{{end}}</td><td>{{.Kind}}</td><td><a href="{{.Path}}">{{.Path}}</a></td><td class="n">{{.Count}}</td></tr>
{{else}}<tr><td colspan="4">No conversations.</td></tr>
{{end}}</table>
<h2>Your media ({{len .Media}})</h2>
<table><tr><th>File</th><th>Kind</th><th>Bytes</th></tr>
{{range .Media}}<tr><td><a href="{{.Path}}">{{.Path}}</a>{{if .Avatar}} (avatar){{end}}</td><td>{{.Mime}}</td><td class="n">{{.Size}}</td></tr>
{{else}}<tr><td colspan="3">No uploads.</td></tr>
{{end}}</table>
{{if .Missing}}<h2>Could not be included ({{len .Missing}})</h2>
<p class="note">These could not be read when the archive was made; everything else is complete.</p>
<table><tr><th>What</th><th>Reason</th></tr>
{{range .Missing}}<tr><td>{{if .MediaID}}media {{.MediaID}}{{else}}{{.Path}}{{end}}</td><td>{{.Reason}}</td></tr>
{{end}}</table>{{end}}
</body></html>
`))

// exportedMessage is a message in an export: its wire form and, when its
// media is in the archive, the media's path there.
type exportedMessage struct {
	wire.Message
	MediaPath string `json:"media_path,omitempty"`
}
