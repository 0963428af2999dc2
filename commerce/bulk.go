package commerce

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"behalf/apperr"
	"behalf/model"

	"github.com/xuri/excelize/v2"
)

// fileRow is one data line of an uploaded file, as written.
type fileRow struct {
	Line     int
	SKU      string
	Quantity string
}

var zipMagic = []byte("PK\x03\x04")

// parseFile reads `sku,quantity` rows from a CSV or XLSX file (told apart by content, not by name).
// Blank rows are skipped, a first row whose first cell is "sku" is a header, columns after the second
// are ignored. More than maxLines data rows is BAD_USER_INPUT.
func parseFile(name string, data []byte, maxLines int) ([]fileRow, error) {
	var rows []fileRow
	var err error
	switch {
	case bytes.HasPrefix(data, zipMagic):
		rows, err = parseXLSX(data, maxLines)
	case bytes.HasPrefix(data, []byte{0xD0, 0xCF, 0x11, 0xE0}) || strings.HasSuffix(strings.ToLower(name), ".xls"):
		return nil, apperr.Input("file", "old .xls workbooks are not supported: save as .xlsx or .csv")
	default:
		rows, err = parseCSV(data, maxLines)
	}
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, apperr.Input("file", "the file has no sku,quantity lines")
	}
	return rows, nil
}

func tooManyLines(max int) error {
	return apperr.Input("file", fmt.Sprintf("the file has more than %d lines", max))
}

// collect turns raw cells into rows: skipping blanks and a header, counting against maxLines.
type collector struct {
	rows     []fileRow
	maxLines int
	seen     bool // a non-blank row was seen (a header may only be the first)
}

func (c *collector) add(line int, cells []string) error {
	var sku, qty string
	if len(cells) > 0 {
		sku = strings.TrimSpace(cells[0])
	}
	if len(cells) > 1 {
		qty = strings.TrimSpace(cells[1])
	}
	if sku == "" && qty == "" {
		return nil
	}
	first := !c.seen
	c.seen = true
	if first && strings.EqualFold(sku, "sku") {
		return nil
	}
	if len(c.rows) >= c.maxLines {
		return tooManyLines(c.maxLines)
	}
	c.rows = append(c.rows, fileRow{Line: line, SKU: sku, Quantity: qty})
	return nil
}

func parseCSV(data []byte, maxLines int) ([]fileRow, error) {
	data = bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF"))
	if !utf8.Valid(data) {
		return nil, apperr.Input("file", "the file is neither UTF-8 CSV nor XLSX")
	}
	r := csv.NewReader(bytes.NewReader(data))
	r.Comma = delimiter(data)
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	r.LazyQuotes = true
	c := &collector{maxLines: maxLines}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return c.rows, nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, apperr.Input("file", fmt.Sprintf("line %d: malformed CSV", pe.StartLine))
			}
			return nil, err
		}
		line, _ := r.FieldPos(0)
		if err := c.add(line, rec); err != nil {
			return nil, err
		}
	}
}

// delimiter guesses the CSV separator from the first line: spreadsheet exports in many locales use ';'.
func delimiter(data []byte) rune {
	first, _, _ := bytes.Cut(data, []byte("\n"))
	switch {
	case bytes.Contains(first, []byte(",")):
		return ','
	case bytes.Contains(first, []byte(";")):
		return ';'
	case bytes.Contains(first, []byte("\t")):
		return '\t'
	}
	return ','
}

// xlsxUnzipLimit bounds how much an XLSX may inflate to, against zip bombs.
const xlsxUnzipLimit = 64 << 20

func parseXLSX(data []byte, maxLines int) ([]fileRow, error) {
	f, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{UnzipSizeLimit: xlsxUnzipLimit, UnzipXMLSizeLimit: xlsxUnzipLimit / 4})
	if err != nil {
		return nil, apperr.Input("file", "the file is not a readable XLSX workbook")
	}
	defer f.Close()
	sheets := f.GetSheetList()
	if len(sheets) == 0 {
		return nil, apperr.Input("file", "the workbook has no sheet")
	}
	rows, err := f.Rows(sheets[0])
	if err != nil {
		return nil, apperr.Input("file", "the first sheet cannot be read")
	}
	defer rows.Close()
	c := &collector{maxLines: maxLines}
	for line := 1; rows.Next(); line++ {
		cells, err := rows.Columns()
		if err != nil {
			return nil, apperr.Input("file", fmt.Sprintf("row %d cannot be read", line))
		}
		if err := c.add(line, cells); err != nil {
			return nil, err
		}
	}
	if err := rows.Error(); err != nil {
		return nil, apperr.Input("file", "the first sheet cannot be read")
	}
	return c.rows, nil
}

// parseQuantity accepts a whole number from 1 to MaxQuantity ("5", or "5.0" as spreadsheets write it).
func parseQuantity(s string) (int, bool) {
	if i := strings.IndexByte(s, '.'); i >= 0 && strings.Trim(s[i+1:], "0") == "" {
		s = s[:i]
	}
	if s == "" || !digitsOnly(s) || len(s) > 6 {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > MaxQuantity {
		return 0, false
	}
	return n, true
}

func digitsOnly(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// AddToCartFromFile adds the `sku,quantity` lines of a CSV or XLSX file to the caller's cart. Good lines
// are added; bad ones (unknown sku, bad quantity, a line over the limits) are reported with their line
// number and skipped. A file over the size limit, with too many lines, or unreadable as a whole is
// BAD_USER_INPUT and changes nothing.
func (s *Service) AddToCartFromFile(ctx context.Context, name string, size int64, r io.Reader) (*model.BulkAddResult, error) {
	if _, err := customer(ctx); err != nil {
		return nil, err
	}
	tooBig := apperr.Input("file", fmt.Sprintf("the file is larger than %d bytes", s.opt.UploadMaxBytes))
	if size > s.opt.UploadMaxBytes {
		return nil, tooBig
	}
	data, err := io.ReadAll(io.LimitReader(r, s.opt.UploadMaxBytes+1))
	if err != nil {
		return nil, apperr.Input("file", "the file could not be read")
	}
	if int64(len(data)) > s.opt.UploadMaxBytes {
		return nil, tooBig
	}
	rows, err := parseFile(name, data, s.opt.MaxFileLines)
	if err != nil {
		return nil, err
	}
	res := &model.BulkAddResult{Errors: []*model.BulkAddError{}}
	cart, err := s.editCart(ctx, func(ctx context.Context, e *cartEdit) error {
		var skus []string
		for _, row := range rows {
			skus = append(skus, normalizeSKU(row.SKU))
		}
		products, err := s.productsBySKU(ctx, skus)
		if err != nil {
			return err
		}
		for _, row := range rows {
			fail := func(msg string) {
				be := &model.BulkAddError{Line: row.Line, Message: msg}
				if row.SKU != "" {
					sku := row.SKU
					if len(sku) > 64 {
						sku = sku[:64]
					}
					be.Sku = &sku
				}
				res.Errors = append(res.Errors, be)
			}
			if row.SKU == "" {
				fail("missing sku")
				continue
			}
			q, ok := parseQuantity(row.Quantity)
			if !ok {
				fail(fmt.Sprintf("quantity must be a whole number from 1 to %d", MaxQuantity))
				continue
			}
			p := products[normalizeSKU(row.SKU)]
			if p == nil {
				fail("unknown sku")
				continue
			}
			if err := e.add(p, q); err != nil {
				if ae, ok := apperr.As(err); ok && ae.Code == apperr.BadUserInput {
					fail(ae.Message)
					continue
				}
				return err
			}
			res.Added++
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	res.Cart = cart
	return res, nil
}
