package commerce

import (
	"context"
	"errors"

	"behalf/apperr"
	"behalf/model"
	"behalf/money"
	"behalf/security"
	"behalf/store"

	"gorm.io/gorm"
)

// CreateProductInput is what createProduct takes; Price is a decimal string such as "12.50".
type CreateProductInput struct {
	SKU, Name, Description, Price, Currency string
	Stock                                   int
}

// CreateProduct adds a product to the catalog (catalog:write). SKUs are stored upper-case; a taken
// sku is CONFLICT.
func (s *Service) CreateProduct(ctx context.Context, in CreateProductInput) (*model.Product, error) {
	if _, err := security.Require(ctx, security.PermCatalogWrite); err != nil {
		return nil, err
	}
	p, err := newProduct(in)
	if err != nil {
		return nil, err
	}
	p.CreatedAt = s.clock.Now()
	p.UpdatedAt = p.CreatedAt
	db := store.Conn(ctx, s.db)
	var n int64
	if err := db.Model(&model.Product{}).Where("sku = ?", p.SKU).Count(&n).Error; err != nil {
		return nil, err
	}
	if n > 0 {
		return nil, apperr.New(apperr.Conflict, "a product with this sku exists").WithReason("SKU_TAKEN")
	}
	if err := db.Create(p).Error; err != nil {
		if store.IsUniqueViolation(err) {
			return nil, apperr.New(apperr.Conflict, "a product with this sku exists").WithReason("SKU_TAKEN")
		}
		return nil, err
	}
	return p, nil
}

// newProduct validates the input and builds the row (without timestamps).
func newProduct(in CreateProductInput) (*model.Product, error) {
	p := &model.Product{ID: model.NewID(), SKU: normalizeSKU(in.SKU)}
	if !validSKU(p.SKU) {
		return nil, apperr.Input("sku", "sku must be 1–64 letters, digits, '-', '_' or '.', starting with a letter or digit")
	}
	var err error
	if p.Name, err = apperr.Text("name", in.Name, 1, 200); err != nil {
		return nil, err
	}
	if p.Description, err = apperr.MultilineText("description", in.Description, 0, 4000); err != nil {
		return nil, err
	}
	if p.Currency, err = money.NormalizeCurrency(in.Currency); err != nil {
		return nil, apperr.Input("currency", err.Error())
	}
	if p.PriceMinor, err = money.Parse(in.Price, p.Currency); err != nil {
		return nil, apperr.Input("price", "price: "+err.Error())
	}
	if in.Stock < 0 || in.Stock > MaxStock {
		return nil, apperr.Input("stock", "stock must be between 0 and 1000000000")
	}
	p.Stock = in.Stock
	p.SearchText = store.SearchText(p.SKU, p.Name, p.Description)
	return p, nil
}

// Products lists the catalog, optionally matching words of sku, name or description. The catalog is
// public: anonymous visitors may browse it.
func (s *Service) Products(ctx context.Context, search *string, page store.PageArgs) (*model.ProductConnection, error) {
	// Only the columns a product has in the API: never the search text or its tsvector, nor
	// timestamps the API does not show (parsing them is most of a row's cost on SQLite).
	q := s.db.WithContext(ctx).Model(&model.Product{}).
		Select("id, sku, name, description, price_minor, currency, stock")
	q = store.MatchWords(q, "products", search)
	return store.Page(ctx, q, page, false, func(p *model.Product) string { return p.ID })
}

// Product returns the product with sku (any case), or nil.
func (s *Service) Product(ctx context.Context, sku string) (*model.Product, error) {
	p, err := s.productBySKU(ctx, sku)
	if apperr.CodeOf(err) == apperr.NotFound {
		return nil, nil
	}
	return p, err
}

func (s *Service) productBySKU(ctx context.Context, sku string) (*model.Product, error) {
	var p model.Product
	err := store.Conn(ctx, s.db).Where("sku = ?", normalizeSKU(sku)).Take(&p).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, apperr.New(apperr.NotFound, "no product with this sku")
	}
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// productsBySKU loads the products of the given (normalized) skus, keyed by sku.
func (s *Service) productsBySKU(ctx context.Context, skus []string) (map[string]*model.Product, error) {
	out := map[string]*model.Product{}
	for start := 0; start < len(skus); start += 500 {
		end := min(start+500, len(skus))
		var ps []*model.Product
		if err := store.Conn(ctx, s.db).Where("sku IN ?", skus[start:end]).Find(&ps).Error; err != nil {
			return nil, err
		}
		for _, p := range ps {
			out[p.SKU] = p
		}
	}
	return out, nil
}

// productsByID loads products by id.
func (s *Service) productsByID(ctx context.Context, ids []string) (map[string]*model.Product, error) {
	out := map[string]*model.Product{}
	if len(ids) == 0 {
		return out, nil
	}
	var ps []*model.Product
	if err := store.Conn(ctx, s.db).Where("id IN ?", ids).Find(&ps).Error; err != nil {
		return nil, err
	}
	for _, p := range ps {
		out[p.ID] = p
	}
	return out, nil
}
