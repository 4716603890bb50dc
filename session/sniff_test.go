package session

import (
	"bytes"
	"math/rand"
	"net/http"
	"strings"
	"testing"
)

// mp3Frame is a layer III frame header (MPEG 1, 128 kbit/s, 44.1 kHz,
// no padding: 417 bytes) and its body.
func mp3Frame() []byte {
	f := make([]byte, 417)
	copy(f, "\xff\xfb\x90\x00")
	return f
}

// TestSniffContentType: the signatures, then text, then octet-stream;
// where net/http knows the type too, the same answer (the tests may use
// net/http, jab does not).
func TestSniffContentType(t *testing.T) {
	twoFrames := append(mp3Frame(), mp3Frame()...)
	long := strings.Repeat("é", sniffLen) // a rune cut at sniffLen
	for name, c := range map[string]struct {
		head string
		want string
		same bool // net/http says the same
	}{
		"PDF":                 {"%PDF-1.7\n%\xe2\xe3", "application/pdf", true},
		"PNG":                 {"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png", true},
		"JPEG":                {"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg", true},
		"GIF87a":              {"GIF87a\x01\x00", "image/gif", true},
		"GIF89a":              {"GIF89a and more", "image/gif", true},
		"WebP":                {"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp", true},
		"BMP":                 {"BM\x36\x00\x0c\x00\x00\x00\x00\x00\x36\x00\x00\x00", "image/bmp", true},
		"BM text":             {"BMW drivers, read this", "text/plain; charset=utf-8", false},
		"ICO":                 {"\x00\x00\x01\x00\x01\x00\x10\x10", "image/x-icon", true},
		"TIFF":                {"II*\x00\x08\x00", "image/tiff", false},
		"ZIP":                 {"PK\x03\x04\x14\x00", "application/zip", true},
		"empty ZIP":           {"PK\x05\x06" + strings.Repeat("\x00", 18), "application/zip", false},
		"GZIP":                {"\x1f\x8b\x08\x00\x00\x00", "application/x-gzip", true},
		"BZIP2":               {"BZh91AY&SY", "application/x-bzip2", false},
		"7z":                  {"7z\xbc\xaf\x27\x1c\x00\x04", "application/x-7z-compressed", false},
		"RAR":                 {"Rar!\x1a\x07\x01\x00", "application/x-rar-compressed", true},
		"XZ":                  {"\xfd7zXZ\x00\x00\x04", "application/x-xz", false},
		"Zstandard":           {"\x28\xb5\x2f\xfd\x04\x00", "application/zstd", false},
		"OGG":                 {"OggS\x00\x02\x00\x00", "application/ogg", true},
		"FLAC":                {"fLaC\x00\x00\x00\x22", "audio/flac", false},
		"MP3 with ID3":        {"ID3\x04\x00\x00\x00\x00", "audio/mpeg", true},
		"MP3 frames":          {string(twoFrames), "audio/mpeg", false},
		"one frame only":      {string(mp3Frame()[:4]) + "\x00\x01", "application/octet-stream", false},
		"WAV":                 {"RIFF\x24\x08\x00\x00WAVEfmt ", "audio/wav", false},
		"AVI":                 {"RIFF\x24\x08\x00\x00AVI LIST", "video/x-msvideo", false},
		"other RIFF":          {"RIFF\x24\x08\x00\x00CDDAfmt ", "application/octet-stream", false},
		"MP4":                 {"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00", "video/mp4", false},
		"MOV":                 {"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00", "video/quicktime", false},
		"M4A":                 {"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00", "audio/mp4", false},
		"HEIC":                {"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", "image/heic", false},
		"ftyp box of 256":     {"\x00\x00\x01\x00ftypisom\x00\x00\x02\x00", "video/mp4", false},
		"WebM":                {"\x1aE\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm", "video/webm", true},
		"Matroska":            {"\x1aE\xdf\xa3\xa3\x42\x86\x81\x01\x42\x82\x88matroska", "video/x-matroska", false},
		"WASM":                {"\x00asm\x01\x00\x00\x00", "application/wasm", true},
		"ELF":                 {"\x7fELF\x02\x01\x01\x00", "application/x-executable", false},
		"WOFF2":               {"wOF2\x00\x01\x00\x00", "font/woff2", true},
		"text":                {"build 42 failed\nsee line 7\n", "text/plain; charset=utf-8", true},
		"UTF-8 text":          {"Grüße, 世界\r\n\ttab\x1b[0m", "text/plain; charset=utf-8", true},
		"empty":               {"", "text/plain; charset=utf-8", true},
		"HTML is text":        {"<!DOCTYPE html><script>alert(1)</script>", "text/plain; charset=utf-8", false},
		"XML is text":         {"<?xml version='1.0'?><a/>", "text/plain; charset=utf-8", false},
		"UTF-16 LE":           {"\xff\xfeh\x00i\x00", "text/plain; charset=utf-16le", true},
		"UTF-16 BE":           {"\xfe\xff\x00h\x00i", "text/plain; charset=utf-16be", true},
		"NUL":                 {"text\x00more", "application/octet-stream", true},
		"vertical tab":        {"a\vb", "application/octet-stream", true},
		"Latin-1":             {"caf\xe9 au lait", "application/octet-stream", false},
		"cut rune, more":      {long, "text/plain; charset=utf-8", true},
		"cut rune, ending":    {"caf\xc3", "application/octet-stream", false},
		"signature too short": {"%PD", "text/plain; charset=utf-8", true},
	} {
		if got := sniffContentType([]byte(c.head)); got != c.want {
			t.Errorf("%s: %q, want %q", name, got, c.want)
		}
		if net := http.DetectContentType([]byte(c.head)); c.same && net != c.want {
			t.Errorf("%s: net/http says %q, the table %q: mark the case", name, net, c.want)
		}
	}
}

// TestSniffRandom: random bytes are octet-stream (a signature too short
// or too loose would label them); the seed is fixed.
func TestSniffRandom(t *testing.T) {
	r := rand.New(rand.NewSource(363))
	head := make([]byte, sniffLen+1)
	for i := range 20000 {
		r.Read(head)
		if got := sniffContentType(head); got != "application/octet-stream" {
			t.Fatalf("random head %d (%x…): %q", i, head[:16], got)
		}
	}
	// A text file whose head is longer than sniffLen is still text.
	if got := sniffContentType(bytes.Repeat([]byte("a line\n"), 1000)); got != "text/plain; charset=utf-8" {
		t.Fatalf("long text: %q", got)
	}
}
