package integration

import (
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// This file runs the README quick start's shell lines as they are written:
// variable assignments, `curl` with the few flags the walkthrough uses, and a
// `for ... do curl ...; done` loop. Anything else fails the test, so the
// walkthrough cannot grow a line the test does not really execute.

// qsStep is one numbered step of the walkthrough: `# <n>. <expected>`
// followed by its command line.
type qsStep struct {
	n        int
	expected string
	command  string
}

// qsLine is a line of the walkthrough: an assignment or a step.
type qsLine struct {
	assign string // NAME=value, when the line is an assignment
	step   *qsStep
}

var (
	qsStepComment = regexp.MustCompile(`^# (\d+)\. (.+)$`)
	qsAssignment  = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)=(\S+)$`)
	qsForLoop     = regexp.MustCompile(`^for ([A-Za-z_]+) in ([^;]+); do (curl [^;]+); done(?:; (curl [^;]+))?$`)
)

// qsParse splits the walkthrough into assignments and numbered steps, in
// order. Steps must be numbered 1, 2, 3, ... and each comment is followed by
// exactly one command line.
func qsParse(t *testing.T, text string) []qsLine {
	t.Helper()
	var lines []qsLine
	var pending *qsStep
	for i, raw := range strings.Split(strings.TrimSpace(text), "\n") {
		line := strings.TrimSpace(raw)
		switch {
		case line == "":
			continue
		case strings.HasPrefix(line, "#"):
			m := qsStepComment.FindStringSubmatch(line)
			if m == nil || pending != nil {
				t.Fatalf("walkthrough line %d: want `# <n>. <expected result>` before each command: %q", i+1, line)
			}
			n, _ := strconv.Atoi(m[1])
			pending = &qsStep{n: n, expected: m[2]}
		case qsAssignment.MatchString(line) && pending == nil:
			lines = append(lines, qsLine{assign: line})
		default:
			if pending == nil {
				t.Fatalf("walkthrough line %d: a command without its numbered comment: %q", i+1, line)
			}
			pending.command = line
			lines = append(lines, qsLine{step: pending})
			pending = nil
		}
	}
	if pending != nil {
		t.Fatalf("walkthrough step %d has no command", pending.n)
	}
	n := 0
	for _, l := range lines {
		if l.step != nil {
			n++
			if l.step.n != n {
				t.Fatalf("walkthrough steps are not numbered in order: %d after %d", l.step.n, n-1)
			}
		}
	}
	return lines
}

// qsShell holds a walkthrough's shell variables and curl cookie jars.
type qsShell struct {
	t      *testing.T
	vars   map[string]string
	jars   map[string]map[string]string // jar file name -> cookie name -> value
	client *http.Client
}

func newQSShell(t *testing.T) *qsShell {
	transport := &http.Transport{DisableCompression: true} // curl asks for no encoding without --compressed
	t.Cleanup(transport.CloseIdleConnections)
	return &qsShell{
		t:    t,
		vars: map[string]string{},
		jars: map[string]map[string]string{},
		client: &http.Client{
			Timeout:   15 * time.Second,
			Transport: transport,
			// curl without -L shows a redirect instead of following it.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// run executes one command line: a curl call, or a for loop of curl calls
// optionally followed by one more. It returns every call's answer in order.
func (s *qsShell) run(line string) []reply {
	s.t.Helper()
	if m := qsForLoop.FindStringSubmatch(line); m != nil {
		var answers []reply
		for _, item := range strings.Fields(m[2]) {
			s.vars[m[1]] = item
			answers = append(answers, s.curl(m[3]))
		}
		if m[4] != "" {
			answers = append(answers, s.curl(m[4]))
		}
		return answers
	}
	return []reply{s.curl(line)}
}

// curl performs one curl command line as curl would: no redirect
// following, cookies read from the -b jar and the received ones written to
// the -c jar (curl, like browsers, keeps and sends Secure cookies for
// localhost over plain HTTP).
func (s *qsShell) curl(line string) reply {
	t := s.t
	t.Helper()
	words := s.words(line)
	if len(words) == 0 || words[0] != "curl" {
		t.Fatalf("walkthrough: only curl is run, got %q", line)
	}
	method, target, readJar, writeJar := "", "", "", ""
	opts := []reqOpt{withHeader("User-Agent", "curl/quickstart-test"), withHeader("Accept", "*/*")}
	for i := 1; i < len(words); i++ {
		arg := words[i]
		switch arg {
		case "-X", "-b", "-c", "-o", "-w", "-H":
			if i+1 == len(words) {
				t.Fatalf("walkthrough: %s without its value in %q", arg, line)
			}
			i++
			value := words[i]
			switch arg {
			case "-X":
				method = value
			case "-b":
				if strings.Contains(value, "=") {
					t.Fatalf("walkthrough: -b with a cookie string is not supported: %q", line)
				}
				readJar = value
			case "-c":
				writeJar = value
			case "-H":
				name, v, ok := strings.Cut(value, ":")
				if !ok {
					t.Fatalf("walkthrough: bad -H %q", value)
				}
				opts = append(opts, withHeader(strings.TrimSpace(name), strings.TrimSpace(v)))
			}
			// -o and -w change only what curl prints.
			continue
		}
		if strings.HasPrefix(arg, "-") {
			if len(arg) < 2 || strings.Trim(arg[1:], "siS") != "" {
				t.Fatalf("walkthrough: curl flag %q is not supported by the test: %q", arg, line)
			}
			continue // -s, -i, -S: output only
		}
		if target != "" {
			t.Fatalf("walkthrough: two URLs in %q", line)
		}
		target = arg
	}
	if target == "" {
		t.Fatalf("walkthrough: no URL in %q", line)
	}
	if !strings.Contains(target, "://") {
		target = "http://" + target
	}
	if method == "" {
		method = http.MethodGet
	}
	cookies := map[string]string{}
	if readJar != "" {
		for name, value := range s.jars[readJar] {
			cookies[name] = value
		}
	}
	names := make([]string, 0, len(cookies))
	for name := range cookies {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		opts = append(opts, withCookie(name, cookies[name]))
	}
	r := send(t, s.client, method, target, opts...)
	for _, c := range r.cookies() {
		if c.MaxAge < 0 || (!c.Expires.IsZero() && c.Expires.Before(time.Now())) {
			delete(cookies, c.Name)
		} else {
			cookies[c.Name] = c.Value
		}
	}
	if writeJar != "" {
		s.jars[writeJar] = cookies
	}
	return r
}

// words splits a command line into words as a POSIX shell would for the
// walkthrough's lines: blanks separate words, single quotes are literal,
// double quotes and bare words expand $NAME. Shell operators are refused.
func (s *qsShell) words(line string) []string {
	t := s.t
	t.Helper()
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
			continue
		case c == '\'':
			end := strings.IndexByte(line[i+1:], '\'')
			if end < 0 {
				t.Fatalf("walkthrough: unclosed ' in %q", line)
			}
			cur.WriteString(line[i+1 : i+1+end])
			i += end + 1
		case c == '"':
			end := strings.IndexByte(line[i+1:], '"')
			if end < 0 {
				t.Fatalf("walkthrough: unclosed \" in %q", line)
			}
			cur.WriteString(s.expand(line[i+1 : i+1+end]))
			i += end + 1
		case c == '$':
			name := qsVarName(line[i+1:])
			cur.WriteString(s.lookup(name))
			i += len(name)
		case strings.IndexByte(";|&<>`\\(){}*?", c) >= 0:
			t.Fatalf("walkthrough: shell syntax %q is not supported by the test: %q", c, line)
		default:
			cur.WriteByte(c)
		}
		inWord = true
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// expand replaces $NAME inside double quotes.
func (s *qsShell) expand(text string) string {
	var b strings.Builder
	for i := 0; i < len(text); i++ {
		if text[i] != '$' {
			if strings.IndexByte("`\\", text[i]) >= 0 {
				s.t.Fatalf("walkthrough: %q inside double quotes is not supported by the test", text[i])
			}
			b.WriteByte(text[i])
			continue
		}
		name := qsVarName(text[i+1:])
		b.WriteString(s.lookup(name))
		i += len(name)
	}
	return b.String()
}

func (s *qsShell) lookup(name string) string {
	s.t.Helper()
	v, ok := s.vars[name]
	if name == "" || !ok {
		s.t.Fatalf("walkthrough: variable %q is not set by an earlier line", name)
	}
	return v
}

func qsVarName(s string) string {
	n := 0
	for n < len(s) && (s[n] == '_' || s[n] >= 'A' && s[n] <= 'Z' || s[n] >= 'a' && s[n] <= 'z' || n > 0 && s[n] >= '0' && s[n] <= '9') {
		n++
	}
	return s[:n]
}
