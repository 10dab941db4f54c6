package telemetryevent

import (
	"errors"
	"time"
)

// RFC 3339 timestamps, parsed without time.Parse's allocations.

// dateCache remembers the last date parseTime saw: the timestamps of a
// batch are seconds apart, so most share it and only the time of day is
// left to parse.
type dateCache struct {
	ymd  [10]byte
	days int64
	ok   bool
}

func (c *dateCache) parse(b []byte) (time.Time, error) {
	if len(b) != 24 || !c.ok || string(b[:10]) != string(c.ymd[:]) ||
		b[10] != 'T' || b[13] != ':' || b[16] != ':' || b[19] != '.' || b[23] != 'Z' {
		t, err := parseTime(b)
		if err == nil && len(b) == 24 && b[23] == 'Z' && b[10] == 'T' {
			// The fast path of parseTime took it: remember the date.
			// A UTC time ('Z'): its day is the date written.
			u := t.Unix()
			days := u / 86400
			if u%86400 < 0 {
				days--
			}
			copy(c.ymd[:], b[:10])
			c.days, c.ok = days, true
		}
		return t, err
	}
	var bad byte
	for _, i := range [...]int{11, 12, 14, 15, 17, 18, 20, 21, 22} {
		if b[i]-'0' > 9 {
			bad = 1
		}
	}
	d := func(i int) int { return int(b[i] - '0') }
	h, mi, sec := d(11)*10+d(12), d(14)*10+d(15), d(17)*10+d(18)
	if bad != 0 || h >= 24 || mi >= 60 || sec >= 60 {
		return time.Time{}, errors.New("bad timestamp")
	}
	ms := d(20)*100 + d(21)*10 + d(22)
	return time.Unix(c.days*86400+int64(h*3600+mi*60+sec), int64(ms)*int64(time.Millisecond)).UTC(), nil
}

// parseTime parses the Telemetry API's `YYYY-MM-DDTHH:MM:SS.mmmZ` without
// allocating (and without time.Date, which dominated decoding small log
// events) and falls back to RFC 3339 for anything else.
func parseTime(b []byte) (time.Time, error) {
	if len(b) == 24 && b[4] == '-' && b[7] == '-' && b[10] == 'T' && b[13] == ':' &&
		b[16] == ':' && b[19] == '.' && b[23] == 'Z' {
		// Unsigned, so that bytes below '0' wrap around to large values.
		var bad byte
		for _, i := range [...]int{0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22} {
			if b[i]-'0' > 9 {
				bad = 1
			}
		}
		d := func(i int) int { return int(b[i] - '0') }
		y := d(0)*1000 + d(1)*100 + d(2)*10 + d(3)
		mo, dd := d(5)*10+d(6), d(8)*10+d(9)
		h, mi, sec := d(11)*10+d(12), d(14)*10+d(15), d(17)*10+d(18)
		ms := d(20)*100 + d(21)*10 + d(22)
		if bad == 0 && mo >= 1 && mo <= 12 && dd >= 1 && dd <= daysIn(mo, y) && h < 24 && mi < 60 && sec < 60 {
			unix := daysFromCivil(y, mo, dd)*86400 + int64(h*3600+mi*60+sec)
			return time.Unix(unix, int64(ms)*int64(time.Millisecond)).UTC(), nil
		}
		return time.Time{}, errors.New("bad timestamp")
	}
	t, err := time.Parse(time.RFC3339Nano, b2s(b))
	if err != nil {
		return time.Time{}, errors.New("bad timestamp")
	}
	return t.UTC(), nil
}

var monthDays = [13]int{0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

func daysIn(m, y int) int {
	if m == 2 && y%4 == 0 && (y%100 != 0 || y%400 == 0) {
		return 29
	}
	return monthDays[m]
}

// daysFromCivil is the number of days since 1970-01-01 of a proleptic
// Gregorian date (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400 // y >= 0: four digits
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}
