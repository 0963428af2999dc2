package commerce

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"behalf/apperr"

	"github.com/xuri/excelize/v2"
)

// XLSX builds a workbook whose first sheet holds rows (a test helper, also used for testdata).
func XLSX(t testing.TB, rows [][]any) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	for i, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow("Sheet1", cell, &r); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestParseFile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		file string
		data []byte
		want []fileRow
		code apperr.Code
	}{
		{name: "csv with header", file: "a.csv", data: []byte("sku,quantity\nA-1,2\nB-2,3\n"),
			want: []fileRow{{2, "A-1", "2"}, {3, "B-2", "3"}}},
		{name: "csv without header, CRLF, blank lines, extra columns", data: []byte("A-1,2,widget\r\n\r\n B-2 , 3 \r\n"),
			want: []fileRow{{1, "A-1", "2"}, {3, "B-2", "3"}}},
		{name: "semicolon and BOM", data: []byte("\xEF\xBB\xBFSKU;Qty\nA-1;7\n"),
			want: []fileRow{{2, "A-1", "7"}}},
		{name: "quoted field", data: []byte("\"A,1\",4\n"), want: []fileRow{{1, "A,1", "4"}}},
		{name: "bad lines are kept for per-line errors", data: []byte("A-1\n,5\nC-3,x\n"),
			want: []fileRow{{1, "A-1", ""}, {2, "", "5"}, {3, "C-3", "x"}}},
		{name: "xlsx with header and numbers", file: "order.xlsx",
			data: XLSX(t, [][]any{{"sku", "quantity"}, {"A-1", 2}, {nil, nil}, {"B-2", 3.0}}),
			want: []fileRow{{2, "A-1", "2"}, {4, "B-2", "3"}}},
		{name: "header only", data: []byte("sku,quantity\n"), code: apperr.BadUserInput},
		{name: "empty", data: nil, code: apperr.BadUserInput},
		{name: "not utf-8", data: []byte{0xff, 0xfe, 0x41, 0x00}, code: apperr.BadUserInput},
		{name: "old xls", file: "x.xls", data: []byte("whatever"), code: apperr.BadUserInput},
		{name: "broken zip", data: []byte("PK\x03\x04garbage"), code: apperr.BadUserInput},
		{name: "too many lines", data: []byte(strings.Repeat("A-1,1\n", 11)), code: apperr.BadUserInput},
		{name: "exactly the limit", data: []byte(strings.Repeat("A-1,1\n", 10)),
			want: func() []fileRow {
				var r []fileRow
				for i := 1; i <= 10; i++ {
					r = append(r, fileRow{i, "A-1", "1"})
				}
				return r
			}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseFile(tt.file, tt.data, 10)
			if tt.code != "" {
				if apperr.CodeOf(err) != tt.code {
					t.Fatalf("err = %v, want %s", err, tt.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("rows = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseQuantity(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"1", 1, true}, {"10000", 10000, true}, {"5.0", 5, true}, {"007", 7, true},
		{"0", 0, false}, {"-1", 0, false}, {"10001", 0, false}, {"1.5", 0, false}, {"x", 0, false},
		{"", 0, false}, {"1e3", 0, false}, {"99999999999999999999", 0, false}, {"+3", 0, false},
	} {
		got, ok := parseQuantity(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseQuantity(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestLooksLikeCardNumber(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"4242424242424242", true}, {"4242 4242 4242 4242", true}, {"4242-4242-4242-4242", true},
		{"378282246310005", true}, {"123456789012", true}, {"tok_4242424242424242", true},
		{"tok_visa", false}, {"tok_chargeDeclined", false}, {"12345678901", false}, {"", false},
		{"pm_1234_5678_9012", false},
	} {
		if got := LooksLikeCardNumber(tt.in); got != tt.want {
			t.Errorf("LooksLikeCardNumber(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestDemoCatalogIsValid(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	if len(demoProducts) < 45 {
		t.Errorf("demo catalog has %d products, want about 50", len(demoProducts))
	}
	for _, in := range demoProducts {
		p, err := newProduct(in)
		if err != nil {
			t.Errorf("%s: %v", in.SKU, err)
			continue
		}
		if seen[p.SKU] {
			t.Errorf("duplicate sku %s", p.SKU)
		}
		seen[p.SKU] = true
	}
}
