package commerce

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
)

// The sample spreadsheets under testdata/ are what a customer might send: the same order as CSV and
// as XLSX. Run with BEHALF_WRITE_TESTDATA=1 to regenerate the XLSX from the CSV.
var (
	sampleCSV  = filepath.Join("..", "testdata", "sample-order.csv")
	sampleXLSX = filepath.Join("..", "testdata", "sample-order.xlsx")
)

func TestSampleSpreadsheets(t *testing.T) {
	t.Parallel()
	csvData, err := os.ReadFile(sampleCSV)
	if err != nil {
		t.Fatal(err)
	}
	csvRows, err := parseFile(sampleCSV, csvData, DefaultFileLines)
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("BEHALF_WRITE_TESTDATA") != "" {
		rows := [][]any{{"sku", "quantity"}}
		for _, r := range csvRows {
			q, _ := strconv.Atoi(r.Quantity)
			rows = append(rows, []any{r.SKU, q})
		}
		if err := os.WriteFile(sampleXLSX, XLSX(t, rows), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	xlsxData, err := os.ReadFile(sampleXLSX)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(xlsxData, zipMagic) {
		t.Fatal("sample-order.xlsx is not an XLSX file")
	}
	xlsxRows, err := parseFile(sampleXLSX, xlsxData, DefaultFileLines)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(csvRows, xlsxRows) {
		t.Errorf("CSV and XLSX samples differ:\n%v\n%v", csvRows, xlsxRows)
	}
	demo := map[string]bool{}
	for _, p := range demoProducts {
		demo[p.SKU] = true
	}
	for _, r := range csvRows {
		if q, ok := parseQuantity(r.Quantity); !demo[r.SKU] || !ok {
			t.Errorf("line %d: %s × %d is not orderable from the demo catalog", r.Line, r.SKU, q)
		}
	}
}
