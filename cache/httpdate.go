package cache

import (
	"strings"
	"time"
)

// parseHTTPDate parses an HTTP-date (RFC 9110 section 5.6.7) strictly: the
// IMF-fixdate form, or one of the two obsolete forms (RFC 850 and asctime)
// that recipients must still accept. Names are matched case-insensitively,
// as the grammar's ABNF literals are. Anything else (other time zones,
// one-digit hours, extra spaces, a two-digit year in IMF-fixdate) is
// invalid: http.ParseTime is more lenient than an Expires field may be,
// since a cache must read an invalid Expires as already expired.
func parseHTTPDate(s string) (time.Time, bool) {
	switch {
	case len(s) == len("Sun, 06 Nov 1994 08:49:37 GMT") && s[3] == ',':
		return parseIMFFixdate(s)
	case len(s) == len("Sun Nov  6 08:49:37 1994") && s[3] == ' ':
		return parseASCTime(s)
	default:
		return parseRFC850(s)
	}
}

var shortDays = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}
var longDays = []string{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"}
var months = []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}

// parseIMFFixdate parses "Sun, 06 Nov 1994 08:49:37 GMT".
func parseIMFFixdate(s string) (time.Time, bool) {
	if indexFold(shortDays, s[0:3]) < 0 || s[3:5] != ", " || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || !strings.EqualFold(s[25:], " GMT") {
		return time.Time{}, false
	}
	day, ok1 := digits(s[5:7])
	month := indexFold(months, s[8:11])
	year, ok2 := digits(s[12:16])
	clock, ok3 := parseClock(s[17:25])
	if !ok1 || !ok2 || !ok3 || month < 0 {
		return time.Time{}, false
	}
	return civil(year, month, day, clock)
}

// parseASCTime parses "Sun Nov  6 08:49:37 1994".
func parseASCTime(s string) (time.Time, bool) {
	if indexFold(shortDays, s[0:3]) < 0 || s[7] != ' ' || s[10] != ' ' || s[19] != ' ' {
		return time.Time{}, false
	}
	month := indexFold(months, s[4:7])
	dayText := s[8:10]
	if dayText[0] == ' ' {
		dayText = "0" + dayText[1:]
	}
	day, ok1 := digits(dayText)
	clock, ok2 := parseClock(s[11:19])
	year, ok3 := digits(s[20:24])
	if !ok1 || !ok2 || !ok3 || month < 0 {
		return time.Time{}, false
	}
	return civil(year, month, day, clock)
}

// parseRFC850 parses "Sunday, 06-Nov-94 08:49:37 GMT". Its two-digit year
// is the most recent year with those digits that is not more than 50 years
// in the future.
func parseRFC850(s string) (time.Time, bool) {
	comma := strings.IndexByte(s, ',')
	if comma < 0 || indexFold(longDays, s[:comma]) < 0 {
		return time.Time{}, false
	}
	rest := s[comma:]
	if len(rest) != len(", 06-Nov-94 08:49:37 GMT") || rest[:2] != ", " || rest[4] != '-' || rest[8] != '-' || rest[11] != ' ' || !strings.EqualFold(rest[20:], " GMT") {
		return time.Time{}, false
	}
	day, ok1 := digits(rest[2:4])
	month := indexFold(months, rest[5:8])
	yy, ok2 := digits(rest[9:11])
	clock, ok3 := parseClock(rest[12:20])
	if !ok1 || !ok2 || !ok3 || month < 0 {
		return time.Time{}, false
	}
	now := time.Now().UTC().Year()
	year := now - now%100 + yy
	if year > now+50 {
		year -= 100
	}
	return civil(year, month, day, clock)
}

// parseClock parses "08:49:37" into seconds since midnight.
func parseClock(s string) (int, bool) {
	if len(s) != 8 || s[2] != ':' || s[5] != ':' {
		return 0, false
	}
	h, ok1 := digits(s[0:2])
	m, ok2 := digits(s[3:5])
	sec, ok3 := digits(s[6:8])
	if !ok1 || !ok2 || !ok3 || h > 23 || m > 59 || sec > 60 {
		return 0, false
	}
	return h*3600 + m*60 + sec, true
}

// civil builds the UTC time, refusing days the month does not have.
func civil(year, month, day, clock int) (time.Time, bool) {
	midnight := time.Date(year, time.Month(month+1), day, 0, 0, 0, 0, time.UTC)
	if day < 1 || midnight.Day() != day {
		return time.Time{}, false
	}
	return midnight.Add(time.Duration(clock) * time.Second), true
}

// digits parses a fixed-width run of ASCII digits.
func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, s != ""
}

func indexFold(names []string, s string) int {
	for i, n := range names {
		if strings.EqualFold(n, s) {
			return i
		}
	}
	return -1
}
