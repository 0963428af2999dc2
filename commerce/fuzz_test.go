package commerce

import "testing"

// FuzzParseFile feeds arbitrary bytes to the CSV/XLSX reader of addToCartFromFile: it returns rows or
// an error, never panics, and never more rows than the line limit.
func FuzzParseFile(f *testing.F) {
	f.Add("cart.csv", []byte("sku,quantity\nA-1,2\n\"B,2\",3\n"))
	f.Add("cart.csv", []byte("\xef\xbb\xbfsku;quantity\r\nA-1;1\r\n"))
	f.Add("cart.xlsx", []byte("PK\x03\x04garbage"))
	f.Add("cart.xls", []byte{0xD0, 0xCF, 0x11, 0xE0})
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		rows, err := parseFile(name, data, 50)
		if err == nil && len(rows) > 50 {
			t.Fatalf("%d rows past the limit", len(rows))
		}
	})
}
