//! Screenshots as palette PNGs: pages are mostly flat colours and anti-aliased text, which 256
//! colours show faithfully in a fraction of the bytes of Chromium's true-colour PNGs (the README's
//! screenshots are committed, so their size stays in the repository for good).

use std::io::Cursor;

/// Colours in the palette (the most an 8-bit palette PNG holds).
const COLOURS: usize = 256;
/// NeuQuant's sampling factor: 1 learns from every pixel, 30 from every 30th; 10 is its authors'
/// balance of speed and quality.
const SAMPLING: i32 = 10;

/// Re-encodes a true-colour PNG (RGB or RGBA, 8 bits) with a palette of [`COLOURS`].
pub fn palette(png_bytes: &[u8]) -> Vec<u8> {
    let mut reader = png::Decoder::new(Cursor::new(png_bytes))
        .read_info()
        .expect("a PNG");
    let mut pixels = vec![0; reader.output_buffer_size().expect("a PNG of sane size")];
    let frame = reader.next_frame(&mut pixels).expect("a PNG's pixels");
    let pixels = &pixels[..frame.buffer_size()];
    let rgba: Vec<u8> = match (frame.color_type, frame.bit_depth) {
        (png::ColorType::Rgba, png::BitDepth::Eight) => pixels.to_vec(),
        (png::ColorType::Rgb, png::BitDepth::Eight) => pixels
            .chunks_exact(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect(),
        other => panic!("a screenshot in {other:?}, not 8-bit RGB or RGBA"),
    };
    let quantizer = color_quant::NeuQuant::new(SAMPLING, COLOURS, &rgba);
    let indices: Vec<u8> = rgba
        .chunks_exact(4)
        .map(|p| u8::try_from(quantizer.index_of(p)).expect("at most 256 colours"))
        .collect();
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, frame.width, frame.height);
    encoder.set_color(png::ColorType::Indexed);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_palette(quantizer.color_map_rgb());
    encoder.set_compression(png::Compression::High);
    let mut writer = encoder.write_header().expect("a PNG header");
    writer.write_image_data(&indices).expect("PNG image data");
    writer.finish().expect("a finished PNG");
    out
}
