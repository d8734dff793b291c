// tests/integration/ingest_receiver.go: a stand-in for a Pyroscope server's
// POST /ingest, for tests/integration/test_pprof.sh. It listens on
// 127.0.0.1 (a free port, written to -port-file), reads every query
// parameter the way Pyroscope's ingest handler reads it (the series name
// with its key parser's rules, from/until as Unix seconds, sampleRate as an
// unsigned number, the units and aggregation types it knows) and parses the
// body with google/pprof's own profile package (format=pprof) or as folded
// lines. Each request becomes one JSON line in -log.
//
// The first element of the URL path tells it how to answer, so one receiver
// serves every case of the test:
//
//	/ok/ingest     200
//	/e400/ingest   400 with a JSON error message, like Pyroscope's
//	/e503/ingest   503 with a message, every time
//	/flaky/ingest  503 to the first request of each profile kind, then 200
//	/slow/ingest   sleeps 5 s, then 200
//
// A request whose parameters Pyroscope would reject gets 400 "invalid
// parameter: ..." whatever the path says.
//
// Built by the test, GOPATH-style against Debian's packaged sources, with no
// network: GO111MODULE=off GOPATH=/usr/share/gocode go build.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/pprof/profile"
)

type record struct {
	Mode          string             `json:"mode"`
	Status        int                `json:"status"`
	Error         string             `json:"error"`
	App           string             `json:"app"`
	Kind          string             `json:"kind"`
	Labels        map[string]string  `json:"labels"`
	From          int64              `json:"from"`
	Until         int64              `json:"until"`
	Format        string             `json:"format"`
	SampleRate    uint32             `json:"sampleRate"`
	SpyName       string             `json:"spyName"`
	Units         string             `json:"units"`
	Aggregation   string             `json:"aggregationType"`
	OrgID         string             `json:"org_id"`
	Auth          string             `json:"auth"`
	ContentType   string             `json:"content_type"`
	Gzip          bool               `json:"gzip"`
	SampleTypes   []string           `json:"sample_types"`
	DefaultType   string             `json:"default_type"`
	PeriodType    string             `json:"period_type"`
	Period        int64              `json:"period"`
	TimeNanos     int64              `json:"time_nanos"`
	DurationNanos int64              `json:"duration_nanos"`
	Samples       int                `json:"samples"`
	Totals        []int64            `json:"totals"`
	LabelKeys     []string           `json:"label_keys"`
	Stacks        map[string][]int64 `json:"stacks"`
	Folded        map[string]int64   `json:"folded"`
}

var (
	logMu   sync.Mutex
	logFile *os.File
	seenMu  sync.Mutex
	seen    = map[string]int{}
)

func tagKeyRune(r rune) bool {
	return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') ||
		r == '_' || r == '.'
}

func appNameRune(r rune) bool { return r == '-' || r == '.' || r == '/' || tagKeyRune(r) }

// parseKey reads a series name as Pyroscope's segment.ParseKey does:
// "app{k=v,k2=v2}", the app name and keys restricted to their runes, values
// up to ',' or '}', everything trimmed.
func parseKey(name string) (string, map[string]string, error) {
	labels := map[string]string{}
	open := strings.IndexByte(name, '{')
	if open < 0 {
		open = len(name)
	}
	app := strings.TrimSpace(name[:open])
	if app == "" {
		return "", nil, fmt.Errorf("application name is required")
	}
	for _, r := range app {
		if !appNameRune(r) {
			return "", nil, fmt.Errorf("app name %q: rune %q not allowed", app, r)
		}
	}
	rest := name[open:]
	if rest == "" {
		return app, labels, nil
	}
	if !strings.HasSuffix(rest, "}") {
		return "", nil, fmt.Errorf("labels not closed by '}' in %q", name)
	}
	body := rest[1 : len(rest)-1]
	if body == "" {
		return app, labels, nil
	}
	for _, kv := range strings.Split(body, ",") {
		eq := strings.IndexByte(kv, '=')
		if eq < 0 {
			return "", nil, fmt.Errorf("label %q has no '='", kv)
		}
		k, v := strings.TrimSpace(kv[:eq]), strings.TrimSpace(kv[eq+1:])
		if k == "" {
			return "", nil, fmt.Errorf("empty label key in %q", name)
		}
		if k == "__name__" {
			return "", nil, fmt.Errorf("label key __name__ is reserved")
		}
		for _, r := range k {
			if !tagKeyRune(r) {
				return "", nil, fmt.Errorf("label key %q: rune %q not allowed", k, r)
			}
		}
		labels[k] = v
	}
	return app, labels, nil
}

func seconds(q map[string][]string, key string) (int64, error) {
	s := first(q, key)
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s %q: not an integer", key, s)
	}
	// Unix seconds: milliseconds or nanoseconds would be 1000 times larger
	if v < 1000000000 || v > 9999999999 {
		return 0, fmt.Errorf("%s %d: not Unix seconds", key, v)
	}
	return v, nil
}

func first(q map[string][]string, key string) string {
	if v := q[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// readQuery fills rec from the query and reports what Pyroscope would refuse.
func readQuery(r *http.Request, rec *record) error {
	q := r.URL.Query()
	app, labels, err := parseKey(first(q, "name"))
	if err != nil {
		return fmt.Errorf("name: %v", err)
	}
	dot := strings.LastIndexByte(app, '.')
	if dot < 0 {
		return fmt.Errorf("name: %q is not APP.KIND", app)
	}
	rec.App, rec.Kind, rec.Labels = app[:dot], app[dot+1:], labels
	if rec.From, err = seconds(q, "from"); err != nil {
		return err
	}
	if rec.Until, err = seconds(q, "until"); err != nil {
		return err
	}
	if rec.From > rec.Until {
		return fmt.Errorf("from %d after until %d", rec.From, rec.Until)
	}
	rec.Format = first(q, "format")
	if rec.Format != "pprof" && rec.Format != "folded" {
		return fmt.Errorf("format %q", rec.Format)
	}
	sr, err := strconv.Atoi(first(q, "sampleRate"))
	if err != nil || sr <= 0 || sr > 1<<32-1 {
		return fmt.Errorf("sampleRate %q", first(q, "sampleRate"))
	}
	rec.SampleRate = uint32(sr)
	rec.SpyName = first(q, "spyName")
	if rec.SpyName == "" {
		return fmt.Errorf("no spyName")
	}
	rec.Units = first(q, "units")
	switch rec.Units {
	case "samples", "objects", "goroutines", "bytes", "lock_samples", "lock_nanoseconds",
		"nanoseconds":
	default:
		return fmt.Errorf("units %q", rec.Units)
	}
	rec.Aggregation = first(q, "aggregationType")
	if rec.Aggregation != "sum" && rec.Aggregation != "average" {
		return fmt.Errorf("aggregationType %q", rec.Aggregation)
	}
	return nil
}

// folded rebuilds poolscope's folded stack of a sample: comm, user frames
// root first, then "-" and kernel frames (marked _[k]) when there are any.
func folded(s *profile.Sample) string {
	var user, kernel []string
	for _, loc := range s.Location {
		for _, ln := range loc.Line {
			name := ln.Function.Name
			if loc.Mapping != nil && loc.Address >= 0xffff800000000000 {
				kernel = append([]string{name + "_[k]"}, kernel...)
			} else {
				user = append([]string{name}, user...)
			}
		}
	}
	comm := "?"
	if c := s.Label["comm"]; len(c) > 0 {
		comm = c[0]
	}
	parts := append([]string{comm}, user...)
	if len(kernel) > 0 {
		parts = append(append(parts, "-"), kernel...)
	}
	return strings.Join(parts, ";")
}

func readPprof(body []byte, rec *record) error {
	rec.Gzip = len(body) > 2 && body[0] == 0x1f && body[1] == 0x8b
	p, err := profile.Parse(bytes.NewReader(body))
	if err != nil {
		return err
	}
	for _, st := range p.SampleType {
		rec.SampleTypes = append(rec.SampleTypes, st.Type+"/"+st.Unit)
	}
	rec.DefaultType = p.DefaultSampleType
	if p.PeriodType != nil {
		rec.PeriodType = p.PeriodType.Type + "/" + p.PeriodType.Unit
	}
	rec.Period, rec.TimeNanos, rec.DurationNanos = p.Period, p.TimeNanos, p.DurationNanos
	rec.Samples = len(p.Sample)
	rec.Totals = make([]int64, len(p.SampleType))
	rec.Stacks = map[string][]int64{}
	keys := map[string]bool{}
	for _, s := range p.Sample {
		f := folded(s)
		if rec.Stacks[f] == nil {
			rec.Stacks[f] = make([]int64, len(s.Value))
		}
		for i, v := range s.Value {
			rec.Totals[i] += v
			rec.Stacks[f][i] += v
		}
		for k := range s.Label {
			keys[k] = true
		}
		for k := range s.NumLabel {
			keys[k] = true
		}
	}
	for k := range keys {
		rec.LabelKeys = append(rec.LabelKeys, k)
	}
	sort.Strings(rec.LabelKeys)
	return nil
}

func readFolded(body []byte, rec *record) error {
	rec.Folded = map[string]int64{}
	for _, line := range strings.Split(strings.TrimRight(string(body), "\n"), "\n") {
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			return fmt.Errorf("folded line %q has no value", line)
		}
		v, err := strconv.ParseInt(line[sp+1:], 10, 64)
		if err != nil {
			return fmt.Errorf("folded line %q: bad value", line)
		}
		rec.Folded[line[:sp]] += v
	}
	return nil
}

func reply(w http.ResponseWriter, rec *record, status int, msg string) {
	rec.Status = status
	logMu.Lock()
	json.NewEncoder(logFile).Encode(rec)
	logMu.Unlock()
	if status != 200 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, "{\"code\":%d,\"message\":%q}\n", status, msg)
	}
}

func ingest(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	rec := &record{Mode: parts[0], OrgID: r.Header.Get("X-Scope-OrgID"),
		Auth: r.Header.Get("Authorization"), ContentType: r.Header.Get("Content-Type")}
	if r.Method != http.MethodPost || parts[len(parts)-1] != "ingest" {
		rec.Error = "not POST .../ingest: " + r.Method + " " + r.URL.Path
		reply(w, rec, 404, rec.Error)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err == nil {
		err = readQuery(r, rec)
	}
	if err == nil && rec.Format == "pprof" {
		err = readPprof(body, rec)
	} else if err == nil {
		err = readFolded(body, rec)
	}
	if err != nil {
		rec.Error = err.Error()
		reply(w, rec, 400, "invalid parameter: "+err.Error())
		return
	}
	seenMu.Lock()
	seen[rec.Mode+"/"+rec.Kind]++
	n := seen[rec.Mode+"/"+rec.Kind]
	seenMu.Unlock()
	switch rec.Mode {
	case "e400":
		reply(w, rec, 400, "tenant over its ingestion limit")
	case "e503":
		reply(w, rec, 503, "ingester unavailable")
	case "flaky":
		if n == 1 {
			reply(w, rec, 503, "ingester restarting")
		} else {
			reply(w, rec, 200, "")
		}
	case "slow":
		time.Sleep(5 * time.Second)
		reply(w, rec, 200, "")
	default:
		reply(w, rec, 200, "")
	}
}

func main() {
	portFile := flag.String("port-file", "", "write the port here")
	logPath := flag.String("log", "", "one JSON line per request")
	flag.Parse()
	var err error
	if logFile, err = os.Create(*logPath); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if err := os.WriteFile(*portFile, []byte(strconv.Itoa(port)+"\n"), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	http.HandleFunc("/", ingest)
	srv := &http.Server{Handler: http.DefaultServeMux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintln(os.Stderr, srv.Serve(ln))
}
