package session

import (
	"bytes"
	"unicode/utf8"
)

// The Content-Type of an uploaded file, from its first bytes. jab does
// not use net/http's DetectContentType: net/http costs every cold start
// about 1 MiB of memory (docs/ARCHITECTURE.md, "The upload's HTTP
// client"). The type is only a label for the slot request and the PUT
// (XEP-0363 §4: the content-type attribute is optional); the receiving
// client decides what to make of the file.

// sniffLen is how much of a file sniffContentType looks at: enough for
// the second frame of an MP3 without a tag at 320 kbit/s.
const sniffLen = 2048

// signature is a type known by fixed bytes at a fixed offset.
type signature struct {
	at    int
	magic string
	typ   string
}

// signatures, first match wins. Where net/http's sniffer knew a type
// (x-gzip, x-rar-compressed), its label is kept: the slot requests say
// what they said before.
var signatures = []signature{
	// ISO BMFF: MP4, MOV, HEIC (isoType); before the icon, whose magic a
	// box of 256 bytes has.
	{4, "ftyp", "video/mp4"},
	{0, "%PDF-", "application/pdf"},
	{0, "\x89PNG\r\n\x1a\n", "image/png"},
	{0, "\xff\xd8\xff", "image/jpeg"},
	{0, "GIF87a", "image/gif"},
	{0, "GIF89a", "image/gif"},
	{0, "\x00\x00\x01\x00", "image/x-icon"},
	{0, "\x00\x00\x02\x00", "image/x-icon"}, // a cursor
	{0, "II*\x00", "image/tiff"},
	{0, "MM\x00*", "image/tiff"},
	{0, "PK\x03\x04", "application/zip"},
	{0, "PK\x05\x06", "application/zip"}, // an empty archive
	{0, "\x1f\x8b\x08", "application/x-gzip"},
	{0, "BZh", "application/x-bzip2"},
	{0, "7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"},
	{0, "Rar!\x1a\x07", "application/x-rar-compressed"},
	{0, "\xfd7zXZ\x00", "application/x-xz"},
	{0, "\x28\xb5\x2f\xfd", "application/zstd"},
	{0, "OggS\x00", "application/ogg"},
	{0, "fLaC", "audio/flac"},
	{0, "ID3", "audio/mpeg"},
	{0, "\x00asm", "application/wasm"},
	{0, "\x7fELF", "application/x-executable"},
	{0, "wOFF", "font/woff"},
	{0, "wOF2", "font/woff2"},
	{0, "\x00\x01\x00\x00\x00", "font/ttf"},
	{0, "OTTO", "font/otf"},
	{0, "MThd\x00\x00\x00\x06", "audio/midi"},
	{0, "\x1aE\xdf\xa3", "video/webm"}, // EBML: WebM or Matroska, below
}

// sniffContentType names the type of content whose first bytes are
// head (the whole content if it has at most sniffLen bytes; more than
// sniffLen bytes mean the content goes on, and only sniffLen are looked
// at): a known signature, else "text/plain; charset=utf-8" for UTF-8 text
// without binary control bytes (an empty file too), else
// "application/octet-stream". HTML and XML are labelled text/plain on
// purpose: served back from the upload host as text/html, a shared file
// could run script in its origin.
func sniffContentType(head []byte) string {
	more := len(head) > sniffLen
	if more {
		head = head[:sniffLen]
	}
	for _, s := range signatures {
		if len(head) < s.at+len(s.magic) || string(head[s.at:s.at+len(s.magic)]) != s.magic {
			continue
		}
		switch s.magic {
		case "ftyp":
			return isoType(head)
		case "\x1aE\xdf\xa3":
			if bytes.Contains(head[:min(len(head), 64)], []byte("matroska")) {
				return "video/x-matroska"
			}
		}
		return s.typ
	}
	if t := riffType(head); t != "" {
		return t
	}
	if len(head) >= 14 && string(head[:2]) == "BM" && string(head[6:10]) == "\x00\x00\x00\x00" {
		return "image/bmp" // the reserved bytes are zero
	}
	if mp3Frames(head) {
		return "audio/mpeg"
	}
	switch {
	case bytes.HasPrefix(head, []byte("\xfe\xff")):
		return "text/plain; charset=utf-16be"
	case bytes.HasPrefix(head, []byte("\xff\xfe")):
		return "text/plain; charset=utf-16le"
	}
	if isText(head, more) {
		return "text/plain; charset=utf-8"
	}
	return "application/octet-stream"
}

// isoType: the major brand of an ISO base media file (ftyp box).
func isoType(head []byte) string {
	if len(head) < 12 {
		return "video/mp4"
	}
	switch string(head[8:12]) {
	case "qt  ":
		return "video/quicktime"
	case "M4A ", "M4B ":
		return "audio/mp4"
	case "heic", "heix", "mif1":
		return "image/heic"
	case "avif":
		return "image/avif"
	case "3gp4", "3gp5", "3gp6":
		return "video/3gpp"
	}
	return "video/mp4"
}

// riffType: the form type of a RIFF file.
func riffType(head []byte) string {
	if len(head) < 12 || string(head[:4]) != "RIFF" {
		return ""
	}
	switch string(head[8:12]) {
	case "WAVE":
		return "audio/wav"
	case "AVI ":
		return "video/x-msvideo"
	case "WEBP":
		return "image/webp"
	}
	return ""
}

// mp3Frames: head starts with two consecutive MPEG audio layer III frame
// headers (an MP3 without an ID3 tag). One header alone is too likely
// in random bytes (about 1 in 4,000).
func mp3Frames(head []byte) bool {
	n := mp3FrameLen(head)
	return n > 0 && n < len(head) && mp3FrameLen(head[n:]) > 0
}

// mp3Kbps: the bit rates of layer III by index, for MPEG 1 and for
// MPEG 2 and 2.5.
var mp3Kbps = [2][15]int{
	{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320},
	{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160},
}

// mp3FrameLen is the length of the layer III frame whose header starts
// b, or 0 if b does not start with one.
func mp3FrameLen(b []byte) int {
	if len(b) < 4 || b[0] != 0xff || b[1]&0xe0 != 0xe0 {
		return 0
	}
	version := b[1] >> 3 & 3 // 0: MPEG 2.5, 2: MPEG 2, 3: MPEG 1
	layer := b[1] >> 1 & 3   // 1: layer III
	bitrate := int(b[2] >> 4)
	rate := int(b[2] >> 2 & 3)
	pad := int(b[2] >> 1 & 1)
	if version == 1 || layer != 1 || bitrate == 0 || bitrate == 15 || rate == 3 {
		return 0
	}
	hz := [3]int{44100, 48000, 32000}[rate]
	if version == 3 {
		return 144*mp3Kbps[0][bitrate]*1000/hz + pad
	}
	if version == 0 {
		hz /= 4
	} else {
		hz /= 2
	}
	return 72*mp3Kbps[1][bitrate]*1000/hz + pad
}

// isText: b is UTF-8 (a rune cut off at the end counts when cut is set:
// b is only the head of the file) with no control bytes but tab,
// newline, carriage return, form feed and escape (net/http's list of
// binary bytes, DEL allowed).
func isText(b []byte, cut bool) bool {
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != 0x1b {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return cut && len(b)-i < utf8.UTFMax && !utf8.FullRune(b[i:])
		}
		i += n
	}
	return true
}
