module gatehouseclient

go 1.19
