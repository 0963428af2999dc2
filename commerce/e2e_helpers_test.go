package commerce_test

import (
	"context"

	"behalf/demo"
	"behalf/internal/apptest"
)

func demoLoad(env *apptest.Env) ([]demo.Login, error) {
	return demo.Load(context.Background(), env.DB, env.App.Security, env.App.Directory, env.App.Commerce)
}
