"""Partner ads (the seed's banners): images kept in the database, shown per client tab."""
