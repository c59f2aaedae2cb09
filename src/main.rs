fn main() { println!("husk"); }
